import NIOCore

extension Channel {
    /// Closes the connection with an RST where the socket allows it (`SO_LINGER` 0), else with a
    /// FIN. A receiver resets what it refuses for load and handshakes that run out of time, so
    /// that a sender tells them from the orderly close an unknown endpoint gets
    /// (docs/protocol.md, "Concurrent handshakes").
    func closeWithReset() {
        guard let options = self as? any SocketOptionProvider else {
            close(promise: nil)
            return
        }
        options.setSoLinger(NIOLinger(l_onoff: 1, l_linger: 0)).whenComplete { _ in
            self.close(promise: nil)
        }
    }
}
