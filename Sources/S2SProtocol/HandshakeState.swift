import FoundationEssentials
public import Crypto

/// A Noise HandshakeState (section 5.3): runs one side of a handshake pattern message by message
/// and, once the last message is through, splits into the two transport CipherStates.
///
/// Calls must follow the pattern: ``nextStep`` says whether to write, read or split. A call out of
/// turn throws ``NoiseError/wrongState(operation:state:)`` and changes nothing. Any other error
/// while processing a message leaves the handshake failed for good, because the hash chain has
/// already absorbed part of that message.
public struct HandshakeState: @unchecked Sendable {
    // @unchecked: swift-crypto 3.12 does not mark its Curve25519 key types Sendable, but they are
    // immutable once created, so sharing them between isolation domains is safe.

    public typealias PrivateKey = Curve25519.KeyAgreement.PrivateKey
    public typealias PublicKey = Curve25519.KeyAgreement.PublicKey

    /// Which side of the handshake this is: the initiator writes the first message.
    public enum Role: Sendable, Hashable {
        case initiator, responder
    }

    /// What the caller must do next.
    public enum Step: Sendable, Hashable {
        case writeMessage, readMessage, split, finished, failed
    }

    /// DHLEN for Curve25519.
    public static let publicKeyLength = 32

    public let protocolName: NoiseProtocolName
    public let role: Role
    private var symmetric: SymmetricState
    private let localStatic: PrivateKey?
    private var localEphemeral: PrivateKey?
    /// A fixed ephemeral key to use instead of a fresh one (test vectors only).
    private var presetEphemeral: PrivateKey?
    /// The peer's static public key: given up front (NK, XK, IK initiator) or learned in the handshake.
    public private(set) var remoteStaticKey: PublicKey?
    public private(set) var remoteEphemeralKey: PublicKey?
    private var messageIndex = 0
    private var hasFailed = false
    private var hasSplit = false

    /// Initialize(): sets up one side of `protocolName`, mixing in the prologue and the pre-message
    /// public keys.
    ///
    /// - Parameters:
    ///   - prologue: data both sides must agree on; a mismatch makes the first encrypted payload fail.
    ///   - staticKey: this side's long-term key, required if the pattern sends or pre-shares it.
    ///   - remoteStaticKey: the peer's long-term public key, required if the peer pre-shares it.
    ///   - ephemeralKey: leave `nil` in production (a fresh key is generated); test vectors fix it.
    public init(
        protocolName: NoiseProtocolName,
        role: Role,
        prologue: [UInt8] = [],
        staticKey: PrivateKey? = nil,
        remoteStaticKey: PublicKey? = nil,
        ephemeralKey: PrivateKey? = nil
    ) throws(NoiseError) {
        self.protocolName = protocolName
        self.role = role
        self.symmetric = SymmetricState(protocolName: protocolName)
        self.localStatic = staticKey
        self.presetEphemeral = ephemeralKey
        self.remoteStaticKey = remoteStaticKey

        let pattern = protocolName.pattern
        for (index, tokens) in pattern.messages.enumerated() where isOurs(messageIndex: index) && tokens.contains(.s) {
            guard staticKey != nil else { throw .missingKey("local static key (s)") }
        }

        prologue.withUnsafeBytes { symmetric.mixHash($0) }
        let initiatorKeys = pattern.initiatorPreMessage
        let responderKeys = pattern.responderPreMessage
        for (tokens, local) in [(initiatorKeys, role == .initiator), (responderKeys, role == .responder)] {
            for token in tokens {
                let publicKey: PublicKey
                switch (token, local) {
                case (.s, true):
                    guard let staticKey else { throw .missingKey("local static key (s)") }
                    publicKey = staticKey.publicKey
                case (.s, false):
                    guard let remoteStaticKey else { throw .missingKey("remote static public key (rs)") }
                    publicKey = remoteStaticKey
                case (.e, true):
                    let ephemeral = ephemeralKey ?? PrivateKey()
                    localEphemeral = ephemeral
                    presetEphemeral = nil
                    publicKey = ephemeral.publicKey
                default:
                    throw .missingKey("pre-message token \(token) cannot be satisfied")
                }
                publicKey.rawRepresentation.withUnsafeBytes { symmetric.mixHash($0) }
            }
        }
    }

    /// What the caller must do next.
    public var nextStep: Step {
        if hasFailed { return .failed }
        if hasSplit { return .finished }
        if messageIndex == protocolName.pattern.messages.count { return .split }
        return isOurs(messageIndex: messageIndex) ? .writeMessage : .readMessage
    }

    /// Whether every handshake message has been written or read successfully.
    public var isHandshakeComplete: Bool {
        !hasFailed && messageIndex == protocolName.pattern.messages.count
    }

    /// The handshake hash `h`: after completion, a unique identifier of this session that both
    /// sides share (for channel binding).
    public var handshakeHash: [UInt8] { symmetric.handshakeHash }

    /// WriteMessage(payload): the next handshake message, with `payload` encrypted if a key is
    /// already established. Refuses, without side effects, a payload that would make the message
    /// exceed 65535 bytes.
    public mutating func writeMessage(payload: [UInt8] = []) throws(NoiseError) -> [UInt8] {
        let step = nextStep
        guard step == .writeMessage else { throw .wrongState(operation: "writeMessage", state: "\(step)") }
        let tokens = protocolName.pattern.messages[messageIndex]
        let length = messageLength(tokens, payloadLength: payload.count)
        guard length <= CipherState.maxMessageLength else {
            throw .messageTooLong(length: length, limit: CipherState.maxMessageLength)
        }
        do throws(NoiseError) {
            var message: [UInt8] = []
            message.reserveCapacity(length)
            for token in tokens {
                switch token {
                case .e:
                    let ephemeral = presetEphemeral ?? PrivateKey()
                    presetEphemeral = nil
                    localEphemeral = ephemeral
                    let publicKey = ephemeral.publicKey.rawRepresentation
                    publicKey.withUnsafeBytes {
                        message.append(contentsOf: $0)
                        symmetric.mixHash($0)
                    }
                case .s:
                    guard let localStatic else { throw NoiseError.missingKey("local static key (s)") }
                    try symmetric.encryptAndHash(
                        localStatic.publicKey.rawRepresentation.withUnsafeBytes { Array($0) }, appendingTo: &message)
                default:
                    try mixDH(token)
                }
            }
            try symmetric.encryptAndHash(payload, appendingTo: &message)
            messageIndex += 1
            return message
        } catch {
            hasFailed = true
            throw error
        }
    }

    /// ReadMessage(message): processes the peer's next handshake message and returns its payload.
    public mutating func readMessage(_ message: [UInt8]) throws(NoiseError) -> [UInt8] {
        let step = nextStep
        guard step == .readMessage else { throw .wrongState(operation: "readMessage", state: "\(step)") }
        let tokens = protocolName.pattern.messages[messageIndex]
        do throws(NoiseError) {
            guard message.count <= CipherState.maxMessageLength else {
                throw NoiseError.messageTooLong(length: message.count, limit: CipherState.maxMessageLength)
            }
            let minimum = messageLength(tokens, payloadLength: 0)
            guard message.count >= minimum else {
                throw NoiseError.messageTooShort(length: message.count, minimum: minimum)
            }
            var offset = 0
            for token in tokens {
                switch token {
                case .e:
                    let bytes = message[offset..<(offset + Self.publicKeyLength)]
                    offset += Self.publicKeyLength
                    remoteEphemeralKey = try Self.publicKey(bytes, "remote ephemeral key (re)")
                    symmetric.mixHash(bytes)
                case .s:
                    let length = symmetric.cipherState.ciphertextLength(forPlaintextLength: Self.publicKeyLength)
                    let bytes = message[offset..<(offset + length)]
                    offset += length
                    let plaintext = try symmetric.decryptAndHash(bytes)
                    remoteStaticKey = try Self.publicKey(plaintext[...], "remote static key (rs)")
                default:
                    try mixDH(token)
                }
            }
            let payload = try symmetric.decryptAndHash(message[offset...])
            messageIndex += 1
            return payload
        } catch {
            hasFailed = true
            throw error
        }
    }

    /// Split(): the transport CipherStates for this side, once the handshake is complete. Callable
    /// once, so that the keys cannot be handed out twice.
    ///
    /// With `transportCipher` `.aesGCM` after a ChaChaPoly handshake, the keys are
    /// `HKDF(ck, "s2s/G", 2)` (the AES-GCM preamble's magic as input key material, where Split()
    /// has none), each cut to 32 bytes, for AES-GCM CipherStates: what both sides do when both
    /// HELLOs set `Hello.Feature.aesGCMTransport` (docs/protocol.md, "Ciphers"). Split()'s own
    /// keys are then never derived.
    public mutating func split(transportCipher: NoiseCipher? = nil) throws(NoiseError) -> (send: CipherState, receive: CipherState) {
        let step = nextStep
        guard step == .split else { throw .wrongState(operation: "split", state: "\(step)") }
        hasSplit = true
        let (initiatorToResponder, responderToInitiator) =
            if let transportCipher, transportCipher != protocolName.cipher {
                try symmetric.split(inputKeyMaterial: EndpointSelector.magic(for: transportCipher), cipher: transportCipher)
            } else {
                try symmetric.split()
            }
        switch role {
        case .initiator: return (initiatorToResponder, responderToInitiator)
        case .responder: return (responderToInitiator, initiatorToResponder)
        }
    }

    private func isOurs(messageIndex index: Int) -> Bool {
        (index % 2 == 0) == (role == .initiator)
    }

    /// The exact length of a message of `tokens` carrying `payloadLength` bytes, given whether a
    /// cipher key is set now and which tokens will set one.
    private func messageLength(_ tokens: [NoisePattern.Token], payloadLength: Int) -> Int {
        var keyed = symmetric.cipherState.hasKey
        var length = 0
        for token in tokens {
            switch token {
            case .e: length += Self.publicKeyLength
            case .s: length += Self.publicKeyLength + (keyed ? NoiseCipher.tagLength : 0)
            case .ee, .es, .se, .ss: keyed = true
            }
        }
        return length + payloadLength + (keyed ? NoiseCipher.tagLength : 0)
    }

    /// MixKey(DH(...)) for a DH token, choosing the key pair by token and role (section 5.3).
    private mutating func mixDH(_ token: NoisePattern.Token) throws(NoiseError) {
        let initiator = role == .initiator
        let local: PrivateKey?
        let remote: PublicKey?
        let what: String
        switch token {
        case .ee:
            (local, remote, what) = (localEphemeral, remoteEphemeralKey, "ee")
        case .es:
            (local, remote, what) =
                initiator ? (localEphemeral, remoteStaticKey, "es") : (localStatic, remoteEphemeralKey, "es")
        case .se:
            (local, remote, what) =
                initiator ? (localStatic, remoteEphemeralKey, "se") : (localEphemeral, remoteStaticKey, "se")
        case .ss:
            (local, remote, what) = (localStatic, remoteStaticKey, "ss")
        case .e, .s:
            return
        }
        guard let local, let remote else { throw .missingKey("key pair for the \(what) token") }
        let secret: SharedSecret
        do {
            secret = try local.sharedSecretFromKeyAgreement(with: remote)
        } catch {
            throw .cryptoFailure("X25519: \(error)")
        }
        let isZero = secret.withUnsafeBytes { $0.reduce(UInt8(0)) { $0 | $1 } == 0 }
        guard !isZero else { throw .invalidDHResult }
        let mixed = secret.withUnsafeBytes { bytes in Result { () throws(NoiseError) in try symmetric.mixKey(bytes) } }
        try mixed.get()
    }

    private static func publicKey(_ bytes: ArraySlice<UInt8>, _ what: String) throws(NoiseError) -> PublicKey {
        do {
            return try PublicKey(rawRepresentation: bytes)
        } catch {
            throw .badKeyLength(what, expected: publicKeyLength, actual: bytes.count)
        }
    }
}
