import NIOCore

// RTMP 1.0 §7.1.1 Command Message (20 AMF0, 17 AMF3) and §7.1.2 Data Message (18 AMF0, 15 AMF3).
//
//   AMF0 command:  name (string) | transaction id (number) | command object (object/null) | args…
//   AMF3 (17/15):  format byte 0x00 | the same AMF0 values, where marker 0x11 switches one value to AMF3

/// A decoded RTMP command: `connect`, `createStream`, `publish`, `_result`, `onStatus`, …
public struct RTMPCommand: Sendable, Equatable {
    /// The procedure name.
    public var name: String
    /// The transaction id; 0 when the sender expects no reply.
    public var transactionID: Double
    /// The command object (connect properties), null for most commands.
    public var commandObject: AMFValue
    /// The remaining arguments.
    public var arguments: [AMFValue]

    /// Creates a command.
    public init(name: String, transactionID: Double, commandObject: AMFValue = .null, arguments: [AMFValue] = []) {
        self.name = name
        self.transactionID = transactionID
        self.commandObject = commandObject
        self.arguments = arguments
    }

    /// Decodes a type 20 or 17 message. Throws ``RTMPError`` for bad AMF or a missing name.
    public init(decoding message: RTMPMessage, maximumDepth: Int) throws {
        var values = try message.amfValues(maximumDepth: maximumDepth)[...]
        guard let name = values.popFirst()?.stringValue else {
            throw RTMPError.malformedCommand(name: nil, reason: "no command name")
        }
        self.name = name
        // Interop: a missing transaction id (seen from some data-channel senders) reads as 0.
        transactionID = values.popFirst()?.numberValue ?? 0
        commandObject = values.popFirst() ?? .null
        arguments = Array(values)
    }

    /// The AMF0 command message (type 20) on `messageStreamID`.
    public func message(messageStreamID: UInt32 = 0) -> RTMPMessage {
        let payload = AMF0Encoder().encode([.string(name), .number(transactionID), commandObject] + arguments)
        return RTMPMessage(type: .amf0Command, messageStreamID: messageStreamID, payload: payload)
    }

    /// An `onStatus` command (transaction 0, null command object) with the usual info object.
    public static func onStatus(level: String, code: String, description: String, details: String? = nil) -> RTMPCommand {
        var info = [
            AMFProperty(key: "level", value: .string(level)),
            AMFProperty(key: "code", value: .string(code)),
            AMFProperty(key: "description", value: .string(description)),
        ]
        if let details { info.append(AMFProperty(key: "details", value: .string(details))) }
        return RTMPCommand(name: "onStatus", transactionID: 0, commandObject: .null, arguments: [.object(info)])
    }
}

extension RTMPMessage {
    /// The AMF values of a command or data message (types 20, 18, 17, 15), mapping AMF errors to
    /// ``RTMPError/amfDepthExceeded(limit:)`` and ``RTMPError/malformedAMF(messageType:_:)``.
    public func amfValues(maximumDepth: Int) throws -> [AMFValue] {
        var body = payload
        if type == .amf3Command || type == .amf3Data, body.getInteger(at: body.readerIndex, as: UInt8.self) == 0x00 {
            body.moveReaderIndex(forwardBy: 1)  // the AMF3 format byte
        }
        do {
            return try AMF0Decoder(maximumDepth: maximumDepth).decodeAll(body)
        } catch AMFError.depthExceeded(let limit) {
            throw RTMPError.amfDepthExceeded(limit: limit)
        } catch let error as AMFError {
            throw RTMPError.malformedAMF(messageType: type.rawValue, error)
        }
    }
}
