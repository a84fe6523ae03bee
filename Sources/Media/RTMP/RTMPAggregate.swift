import NIOCore

// RTMP 1.0 §7.1.6 Aggregate Message (type 22): FLV tags back to back.
//
//   +------+----------+-----------+--------+-----------+------+--------------+
//   | type | size (3) | ts (3)    | ts ext | stream id | body | back pointer |
//   | (1)  |          | low 24    | (1)    | (3)       |      | (4)          |
//   +------+----------+-----------+--------+-----------+------+--------------+
//   Sub-message timestamps are re-based: aggregate ts + (sub ts - first sub ts).

/// Splits aggregate messages into their sub-messages.
public enum RTMPAggregate {
    /// The sub-messages of `message`, on its message stream, with re-based timestamps.
    /// Throws ``RTMPError/malformedAggregate(offset:length:)`` when a tag runs past the end.
    public static func split(_ message: RTMPMessage) throws -> [RTMPMessage] {
        var body = message.payload
        let total = body.readableBytes
        var firstTimestamp: UInt32?
        var messages: [RTMPMessage] = []
        while body.readableBytes > 0 {
            let offset = total - body.readableBytes
            guard body.readableBytes >= 11,
                  let type = body.readInteger(as: UInt8.self),
                  let size = body.readUInt24(),
                  let low = body.readUInt24(),
                  let high = body.readInteger(as: UInt8.self),
                  body.readUInt24() != nil,
                  let data = body.readSlice(length: Int(size))
            else { throw RTMPError.malformedAggregate(offset: offset, length: total) }
            let timestamp = UInt32(high) << 24 | low
            let base = firstTimestamp ?? timestamp
            firstTimestamp = base
            messages.append(RTMPMessage(
                type: RTMPMessageType(rawValue: type), messageStreamID: message.messageStreamID,
                timestamp: message.timestamp &+ (timestamp &- base), payload: data))
            // Interop: tolerate a missing back pointer after the last tag.
            if body.readableBytes > 0 {
                guard body.readInteger(as: UInt32.self) != nil else {
                    throw RTMPError.malformedAggregate(offset: total - body.readableBytes, length: total)
                }
            }
        }
        return messages
    }
}
