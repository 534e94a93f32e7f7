import ArgumentParser

/// `s2sctl endpoint ...`: the directories this machine receives files into.
struct EndpointCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "endpoint",
        abstract: "Create, list, show and delete endpoints.",
        discussion: """
            An endpoint is a directory that accepts incoming files, named by a random ID. Whoever has \
            the ID can send files into the directory, and nothing else: not list it, not read it, not \
            learn how much space is free. Give the ID to a sender by any channel.
            """,
        subcommands: [EndpointNew.self, EndpointList.self, EndpointShow.self, EndpointRemove.self, EndpointPunch.self])
}
