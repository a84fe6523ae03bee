import NIOCore
import Testing
@testable import Media

/// A minimal MPEG-TS reader for tests: checks packet framing and reassembles PES packets and sections.
struct TransportStreamReader {
    struct Packet {
        var pid: UInt16
        var unitStart: Bool
        var continuityCounter: UInt8
        var hasPayload: Bool
        var randomAccess: Bool
        var pcr: Int64?
        var payload: [UInt8]
    }

    struct PES {
        var pid: UInt16
        var streamID: UInt8
        var pts: Int64
        var dts: Int64?
        var packetLength: Int
        var randomAccess: Bool
        var pcr: Int64?
        var payload: [UInt8]
    }

    var packets: [Packet] = []

    /// Parses `bytes`; records an issue for any framing error.
    init(_ buffer: ByteBuffer) {
        let bytes = Array(buffer.readableBytesView)
        #expect(bytes.count % 188 == 0, "length \(bytes.count) is not a multiple of 188")
        var offset = 0
        while offset + 188 <= bytes.count {
            let packet = Array(bytes[offset..<offset + 188])
            offset += 188
            #expect(packet[0] == 0x47)
            let pid = UInt16(packet[1] & 0x1F) << 8 | UInt16(packet[2])
            let control = (packet[3] >> 4) & 0x03
            var index = 4
            var randomAccess = false
            var pcr: Int64?
            if control & 0x02 != 0 {
                let length = Int(packet[4])
                #expect(5 + length <= 188)
                if length > 0 {
                    let flags = packet[5]
                    randomAccess = flags & 0x40 != 0
                    if flags & 0x10 != 0 {
                        let p = packet[6..<12].map(Int64.init)
                        pcr = p[0] << 25 | p[1] << 17 | p[2] << 9 | p[3] << 1 | p[4] >> 7
                    }
                }
                index = 5 + length
            }
            packets.append(Packet(pid: pid, unitStart: packet[1] & 0x40 != 0, continuityCounter: packet[3] & 0x0F,
                                  hasPayload: control & 0x01 != 0, randomAccess: randomAccess, pcr: pcr,
                                  payload: Array(packet[index...])))
        }
    }

    /// Continuity counters of payload-carrying packets of `pid`.
    func continuityCounters(pid: UInt16) -> [UInt8] {
        packets.filter { $0.pid == pid && $0.hasPayload }.map(\.continuityCounter)
    }

    /// PSI sections (pointer_field skipped, filler dropped) of `pid`.
    func sections(pid: UInt16) -> [[UInt8]] {
        packets.filter { $0.pid == pid && $0.unitStart }.map { packet in
            let body = Array(packet.payload.dropFirst(1 + Int(packet.payload[0])))
            let length = Int(body[1] & 0x0F) << 8 | Int(body[2])
            return Array(body.prefix(3 + length))
        }
    }

    /// Reassembled PES packets of `pid`.
    func pes(pid: UInt16) -> [PES] {
        var result: [PES] = []
        var current: (first: Packet, bytes: [UInt8])?
        func flush() {
            guard let (first, bytes) = current else { return }
            #expect(Array(bytes.prefix(3)) == [0, 0, 1])
            let headerLength = Int(bytes[8])
            let flags = bytes[7] >> 6
            let pts = Self.timestamp(Array(bytes[9..<14]))
            let dts = flags == 3 ? Self.timestamp(Array(bytes[14..<19])) : nil
            result.append(PES(pid: first.pid, streamID: bytes[3], pts: pts, dts: dts,
                              packetLength: Int(bytes[4]) << 8 | Int(bytes[5]), randomAccess: first.randomAccess,
                              pcr: first.pcr, payload: Array(bytes[(9 + headerLength)...])))
        }
        for packet in packets where packet.pid == pid {
            if packet.unitStart {
                flush()
                current = (packet, packet.payload)
            } else {
                current?.bytes += packet.payload
            }
        }
        flush()
        return result
    }

    static func timestamp(_ b: [UInt8]) -> Int64 {
        Int64(b[0] >> 1 & 0x07) << 30 | Int64(b[1]) << 22 | Int64(b[2] >> 1) << 15 | Int64(b[3]) << 7 | Int64(b[4] >> 1)
    }
}

extension Array where Element == UInt8 {
    /// Bytes from a hex string; whitespace ignored.
    init(tsHex hex: String) {
        let digits = hex.filter { !$0.isWhitespace }
        var bytes: [UInt8] = []
        var index = digits.startIndex
        while index < digits.endIndex {
            let next = digits.index(index, offsetBy: 2)
            bytes.append(UInt8(digits[index..<next], radix: 16)!)
            index = next
        }
        self = bytes
    }
}
