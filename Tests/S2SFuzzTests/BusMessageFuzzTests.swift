import FoundationEssentials
import S2SBus
import Testing

/// D-Bus message decoding from the messages the daemon's bus really carried (Corpus/bus): a
/// mutated message is either refused by `Message.demarshal` or `body()` with a ``BusError``, or
/// it is read in full, marshals and reads back to the same values, and (a method call or a
/// signal) is rebuilt from those values by this library's own writer without libdbus aborting.
/// Extends MalformedInputTests (one synthetic message, random bytes replaced) to the captured
/// traffic and to structure-aware mutations.
@Suite(.serialized) struct BusMessageFuzzTests {
    static let messages: [[UInt8]] = Corpus.files("bus", ext: "msgs").flatMap { $0.items.map(\.bytes) }

    static let mutator = Mutator(firstBytes: [UInt8(ascii: "l"), UInt8(ascii: "B")], maxLength: 1 << 17)

    @Test func theCorpusIsThere() throws {
        #expect(Self.messages.count >= 20, "no captured messages in \(Corpus.directory.path)/bus")
        var members = Set<String>()
        for bytes in Self.messages {
            let message = try Message.demarshal(bytes)
            _ = try message.body()
            members.insert(message.member ?? "")
        }
        #expect(members.count >= 8)
    }

    /// Values compared through their descriptions: a NaN double equals itself there.
    static func same(_ a: [DBusValue], _ b: [DBusValue]) -> Bool {
        a.count == b.count && zip(a, b).allSatisfy { $0 == $1 || $0.description == $1.description }
    }

    @Test func messagesDecodeInFullOrFail() async {
        var rng = FuzzRun.generator("bus")
        var tally = FuzzTally("bus messages")
        guard !Self.messages.isEmpty else { return }
        var rebuilt = 0
        var writerRefused: [String: Int] = [:]
        for iteration in 0..<FuzzRun.share(0.35) {
            let seed = Self.messages[Int.random(in: 0..<Self.messages.count, using: &rng)]
            let bytes = Self.mutator.mutate(seed, corpus: Self.messages, &rng)
            await tally.next()
            let body: [DBusValue]
            let message: Message
            do {
                message = try Message.demarshal(bytes)
                body = try message.body()
                _ = (message.kind, message.path, message.interface, message.member, message.sender,
                     message.destination, message.errorName, message.signature, message.error)
            } catch {
                tally.rejected(error)
                continue
            }
            tally.accepted += 1
            if body.count > bytes.count { tally.violation("more values than bytes", bytes, iteration: iteration) }
            // libdbus's own encoding of what it read reads back the same.
            do {
                let again = try Message.demarshal(try message.marshal(serial: message.serial))
                if !Self.same(try again.body(), body) {
                    tally.violation("re-marshalled body differs", bytes, iteration: iteration)
                }
            } catch {
                tally.violation("re-marshalling failed: \(error)", bytes, iteration: iteration)
            }
            // This library's writer: validate, append, marshal, read back.
            guard let path = message.path, let member = message.member else { continue }
            do {
                let copy: Message =
                    switch message.kind {
                    case .signal:
                        try Message.signal(path: path, interface: message.interface ?? "", member: member, body: body)
                    default:
                        try Message.methodCall(
                            destination: message.destination, path: path, interface: message.interface,
                            member: member, body: body)
                    }
                let read = try Message.demarshal(try copy.marshal()).body()
                if !Self.same(read, body) { tally.violation("rebuilt body differs", bytes, iteration: iteration) }
                rebuilt += 1
            } catch {
                writerRefused[String(String(describing: error).prefix(50)), default: 0] += 1
            }
        }
        let growth = tally.finish()
        print("fuzz bus messages: \(rebuilt) rebuilt by the writer; refused by it: \(writerRefused.sorted { $0.value > $1.value }.prefix(5))")
        #expect(tally.reported == 0)
        #expect(tally.accepted > tally.inputs / 50 && rebuilt > 0, "the mutations never produce valid messages")
        #expect(tally.errors.count >= 3)
        #expect(growth < 256 * 1024)
    }

    /// Signatures (the strings every array, variant and reply is typed by): parsed, or a
    /// ``DBusTypeError``; what parses prints back as the same string.
    @Test func signaturesParseExactlyOrFail() async {
        var rng = FuzzRun.generator("signatures")
        var tally = FuzzTally("signatures")
        let alphabet = Array("ybnqiuxtdsoghva(){}".utf8) + [0x00, 0x7A, 0xFF]
        let seeds = Self.messages.compactMap { try? Message.demarshal($0).signature }.filter { !$0.isEmpty }
            + ["a{sv}", "a(oa{sa{sv}})", "(ii)", "aav", "a{oa{sa{sv}}}", "v"]
        for iteration in 0..<FuzzRun.share(0.05) {
            var bytes = Array((seeds.randomElement(using: &rng) ?? "").utf8)
            for _ in 0..<Int.random(in: 0...4, using: &rng) {
                let at = Int.random(in: 0...bytes.count, using: &rng)
                switch Int.random(in: 0..<3, using: &rng) {
                case 0: bytes.insert(alphabet.randomElement(using: &rng) ?? 0, at: at)
                case 1 where at < bytes.count: bytes.remove(at: at)
                default: bytes.insert(contentsOf: Array(repeating: alphabet.randomElement(using: &rng) ?? 0, count: Int.random(in: 1...70, using: &rng)), at: at)
                }
            }
            let text = String(decoding: bytes, as: UTF8.self)
            await tally.next()
            do {
                let types = try DBusType.parse(text)
                tally.accepted += 1
                if types.map(\.signature).joined() != text {
                    tally.violation("prints back differently", bytes, iteration: iteration)
                }
            } catch {
                tally.rejected(error)
            }
        }
        _ = tally.finish()
        #expect(tally.reported == 0)
        #expect(tally.accepted > 0)
    }
}
