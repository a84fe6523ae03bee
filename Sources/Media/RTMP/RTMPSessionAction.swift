import NIOCore

/// What an ``RTMPServerSession`` asks its owner to do or tells it, in order.
public enum RTMPSessionAction: Sendable {
    /// Bytes to write to the socket, in order.
    case send(ByteBuffer)
    /// Informational: `connect` was answered.
    case connected(app: String, tcUrl: String?)
    /// `publish(name)` arrived: decide, then call ``RTMPServerSession/acceptPublish()`` or
    /// ``RTMPServerSession/rejectPublish(code:description:)``. Any "?query" suffix is stripped.
    case publishRequested(app: String, streamName: String)
    /// An FLV audio tag body (message type 8); timestamp unwrapped to 64-bit milliseconds.
    case audio(timestamp: Int64, payload: ByteBuffer)
    /// An FLV video tag body (message type 9); timestamp unwrapped to 64-bit milliseconds.
    case video(timestamp: Int64, payload: ByteBuffer)
    /// `[@setDataFrame] onMetaData` arguments (the metadata object or ECMA array).
    case metadata(timestamp: Int64, values: [AMFValue])
    /// The publishing stream ended (FCUnpublish, closeStream or deleteStream).
    case unpublished
}

/// Collects actions, merging consecutive sends into one buffer (one write, one flush).
struct RTMPSessionOutbox {
    private(set) var actions: [RTMPSessionAction] = []
    private var bytes = ByteBuffer()

    /// Chunks `message` onto the pending bytes.
    mutating func send(_ message: RTMPMessage, chunkStreamID: UInt32, encoder: RTMPChunkEncoder) {
        encoder.encode(message, chunkStreamID: chunkStreamID, into: &bytes)
    }

    /// Appends a non-send action after the bytes queued so far.
    mutating func append(_ action: RTMPSessionAction) {
        flush()
        actions.append(action)
    }

    /// All actions, the queued bytes last.
    mutating func finish() -> [RTMPSessionAction] {
        flush()
        return actions
    }

    private mutating func flush() {
        guard bytes.readableBytes > 0 else { return }
        actions.append(.send(bytes))
        bytes = ByteBuffer()
    }
}
