import Foundation
import Testing
@testable import S2SEngine

/// What the daemon's sandbox hides from its users, read from mountinfo.
struct SandboxViewTests {
    // Lines as systemd 252 leaves them for a service with PrivateTmp=yes and ProtectSystem=strict.
    let mountinfo = """
        100 90 254:0 / / ro,relatime master:1 - ext4 /dev/vda rw,discard
        101 100 254:0 /tmp/systemd-private-0f1e-s2sd.service-AbCd/tmp /tmp rw,nosuid,nodev master:1 - ext4 /dev/vda rw,discard
        102 100 254:0 /var/tmp/systemd-private-0f1e-s2sd.service-EfGh/tmp /var/tmp rw,nosuid,nodev master:1 - ext4 /dev/vda rw,discard
        103 100 254:0 /home /home rw,relatime master:1 - ext4 /dev/vda rw,discard
        104 100 7:0 / /mnt/cd\\040rom ro,relatime - iso9660 /dev/loop0 ro
        """

    @Test func privateTemporaryDirectoriesAreFound() {
        let table = MountTable(parsing: mountinfo)
        #expect(table.privateTemporaryDirectories == ["/tmp", "/var/tmp"])
        let view = SandboxView(privateDirectories: table.privateTemporaryDirectories)
        #expect(view.privateDirectory(containing: "/tmp") == "/tmp")
        #expect(view.privateDirectory(containing: "/tmp/in") == "/tmp")
        #expect(view.privateDirectory(containing: "/var/tmp/a/b") == "/var/tmp")
        #expect(view.privateDirectory(containing: "/tmpfoo/in") == nil)
        #expect(view.privateDirectory(containing: "/home/ann/in") == nil)
        #expect(MountTable(parsing: "1 0 8:1 / / rw - ext4 /dev/sda1 rw\n").privateTemporaryDirectories.isEmpty)
    }

    @Test func readOnlyForTheDaemonOnlyIsToldApart() {
        let table = MountTable(parsing: mountinfo)
        let opt = table.mount(containing: "/opt/drop")
        #expect(opt?.mountPoint == "/")
        #expect(opt?.readOnly == true && opt?.fileSystemReadOnly == false)
        #expect(table.mount(containing: "/home/ann/in")?.readOnly == false)
        let cd = table.mount(containing: "/mnt/cd rom/x")
        #expect(cd?.mountPoint == "/mnt/cd rom")
        #expect(cd?.fileSystemReadOnly == true)
    }

    @Test func theDaemonRefusesAPrivateDirectoryByName() async throws {
        let view = SandboxView(privateDirectories: ["/tmp"])
        #expect {
            try EndpointDirectory.check("/tmp/in", owner: 0, sandbox: view)
        } throws: { error in
            (error as? EngineError)?.kind == .invalidPath && "\(error)".contains("PrivateTmp")
        }
    }
}
