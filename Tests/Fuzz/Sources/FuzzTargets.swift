// The fuzz targets: each feeds the bytes to a parser exactly as the appliance does and must neither
// crash nor hang nor grow without bound; thrown errors are fine.
@testable import Appliance
import Media
import NIOCore

enum FuzzTarget: String, CaseIterable {
    case chunk, handshake, session, amf0, amf3, flv, avc, asc, playlist, config, json, boxes, tsdemux, fragments, images, relay

    func run(_ bytes: UnsafeRawBufferPointer) {
        let buffer = ByteBuffer(bytes: bytes)
        switch self {
        case .chunk: Self.chunk(buffer)
        case .handshake: Self.handshake(buffer)
        case .session: Self.session(buffer)
        case .amf0: _ = try? AMF0Decoder().decodeAll(buffer)
        case .amf3: Self.amf3(buffer)
        case .flv: Self.flv(buffer)
        case .avc: Self.avc(buffer)
        case .asc: Self.asc(buffer)
        case .playlist: _ = try? MediaPlaylist(parsing: String(decoding: bytes, as: UTF8.self))
        case .config: _ = try? ConfigLoader.parse(String(decoding: bytes, as: UTF8.self))
        case .json: Self.json(buffer)
        case .boxes: _ = try? BoxReader.read(buffer)
        case .tsdemux: Self.tsdemux(buffer)
        case .fragments: Self.fragments(buffer)
        case .images: Self.images(String(decoding: bytes, as: UTF8.self))
        case .relay: Self.relay(buffer)
        }
    }

    /// Small limits so the fuzzer reaches them; the first byte splits the input in two reads.
    static let rtmp = RTMPConfiguration(maximumMessageSize: 64 * 1024, maximumChunkStreams: 8, maximumAMFDepth: 8)

    static func chunk(_ buffer: ByteBuffer) {
        var decoder = RTMPChunkDecoder(configuration: rtmp)
        for var part in split(buffer) {
            while (try? decoder.decode(&part)).flatMap({ $0 }) != nil {
                precondition((0...rtmp.maximumPendingBytes).contains(decoder.pendingBytes), "pendingBytes \(decoder.pendingBytes)")
            }
            precondition((0...rtmp.maximumPendingBytes).contains(decoder.pendingBytes), "pendingBytes \(decoder.pendingBytes)")
        }
    }

    static func handshake(_ buffer: ByteBuffer) {
        var handshake = RTMPServerHandshake(random: [7])
        for var part in split(buffer) {
            while part.readableBytes > 0, handshake.state != .complete {
                let before = part.readableBytes
                guard (try? handshake.receive(&part)) != nil else { return }
                if part.readableBytes == before { break }
            }
        }
    }

    /// Simulcast: what a hostile target server answers onair's client (in two reads), the same bytes as
    /// a target's `url` and `stream_key`, and as samples through a relay feed with a small bound.
    static func relay(_ buffer: ByteBuffer) {
        var client = RTMPClientSession(app: "app", tcUrl: "rtmp://h/app", streamName: "k", configuration: rtmp, handshakeRandom: [7])
        _ = client.start()
        for var part in split(buffer) {
            guard (try? client.receive(&part)) != nil else { break }
        }
        if client.isPublishing {
            var out = ByteBuffer()
            client.media(RTMPMessage(type: .video, timestamp: 0xFFFF_FFFF, payload: buffer), into: &out)
            _ = client.unpublish()
        }
        let text = String(decoding: buffer.readableBytesView, as: UTF8.self)
        let words = text.split(separator: " ", maxSplits: 1).map(String.init)
        _ = try? SimulcastURL(url: words.first ?? "", streamKey: words.count > 1 ? words[1] : nil)
        var feed = RelayFeed(settings: .init(maximumQueuedBytes: 2048))
        feed.tracks(video: nil, audio: nil)
        var clock: Int64 = 0
        for byte in buffer.readableBytesView.prefix(2048) {
            clock += Int64(byte & 0x3F) * 90 - 900
            switch byte >> 5 {
            case 0: feed.connected()
            case 1: feed.disconnected()
            case 2: feed.sessionStarted()
            case 3: _ = feed.next()
            default:
                let kind: TrackKind = byte & 1 == 0 ? .video : .audio
                _ = feed.sample(MediaSample(kind: kind, dts: clock, pts: clock + Int64(byte) * 9, isKeyframe: byte & 2 == 0,
                                            payload: ByteBuffer(repeating: byte, count: Int(byte))))
            }
        }
        while feed.next() != nil {}
    }

    /// The whole ingest path: session, commands, FLV, codecs, the segmenter and the MPEG-TS muxer.
    static func session(_ buffer: ByteBuffer) {
        var session = RTMPServerSession(configuration: rtmp, handshakeRandom: [7])
        var media = MediaPipeline()
        for var part in split(buffer) {
            guard var actions = try? session.receive(&part) else { return }
            while !actions.isEmpty {
                var next: [RTMPSessionAction] = []
                for action in actions {
                    switch action {
                    case .publishRequested: next += session.acceptPublish()
                    case .video(let timestamp, let payload): media.video(timestamp, payload)
                    case .audio(let timestamp, let payload): media.audio(timestamp, payload)
                    case .metadata(_, let values): media.demuxer.metadata(values)
                    default: break
                    }
                }
                actions = next
            }
        }
        media.finish()
    }

    static func amf3(_ buffer: ByteBuffer) {
        var buffer = buffer
        var decoder = AMF3Decoder(maximumDepth: 8)
        while buffer.readableBytes > 0, (try? decoder.decode(&buffer)) != nil {}
    }

    /// Records of [kind: 1][timestamp: 4][length: 2][body], as tag bodies reach the demuxer.
    static func flv(_ buffer: ByteBuffer) {
        var buffer = buffer
        var media = MediaPipeline()
        while let kind = buffer.readInteger(as: UInt8.self), let timestamp = buffer.readInteger(as: UInt32.self),
              let length = buffer.readInteger(as: UInt16.self) {
            let body = buffer.readSlice(length: min(Int(length), buffer.readableBytes)) ?? ByteBuffer()
            switch kind % 3 {
            case 0: media.video(Int64(timestamp), body); _ = try? FLVVideoTag(parsing: body)
            case 1: media.audio(Int64(timestamp), body); _ = try? FLVAudioTag(parsing: body)
            default: media.demuxer.metadata((try? AMF0Decoder().decodeAll(body)) ?? [])
            }
        }
        media.finish()
    }

    static func avc(_ buffer: ByteBuffer) {
        if let record = try? AVCDecoderConfigurationRecord(parsing: buffer) {
            for sps in record.sequenceParameterSets { _ = try? SequenceParameterSet(parsing: sps) }
            _ = try? AnnexB.nalUnits(inAVCC: buffer, nalUnitLengthSize: record.nalUnitLengthSize)
        }
        _ = try? SequenceParameterSet(parsing: buffer)
    }

    static func asc(_ buffer: ByteBuffer) {
        guard let config = try? AudioSpecificConfig(parsing: buffer) else { return }
        if let header = try? ADTSHeader(config: config, payloadLength: buffer.readableBytes) {
            var out = ByteBuffer()
            header.write(into: &out)
        }
    }

    static func json(_ buffer: ByteBuffer) {
        _ = try? JSONParser.parse(buffer.readableBytesView)
        _ = try? LiveStreamRequest(body: buffer)
    }

    /// An image URL (`file?name=value&...`, as the query or a token's claims give them) parsed, then
    /// turned into ffmpeg's arguments and, for storyboards, a layout and its VTT and JSON.
    static func images(_ text: String) {
        let (file, query) = text.firstIndex(of: "?").map { (String(text[..<$0]), String(text[text.index(after: $0)...])) } ?? (text, "")
        var parameters: [String: String] = [:]
        for pair in query.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            parameters[String(parts[0])] = parts.count > 1 ? String(parts[1]) : ""
        }
        guard let request = try? ImageRequest.parse(file: file, parameters: parameters) else { return }
        let input = ImageJob.Input(files: ["/run/a.ts", "/run/b.ts"], offset: request.time ?? request.start, duration: request.end)
        switch request.kind {
        case .thumbnail: _ = ImageJob(inputs: [input], picture: .thumbnail(request)).arguments(output: "/o", script: "/s")
        case .animated: _ = ImageJob(inputs: [input], picture: .animated(request)).arguments(output: "/o", script: "/s")
        case .storyboard:
            let board = Storyboard(start: request.clipStart ?? 0, end: request.clipEnd ?? 60, videoSize: (request.width ?? 1, request.height ?? 1))
            _ = board.vtt(imageURL: "u") + board.json(imageURL: "u")
            let grid = ImageJob.Grid(format: request.tileFormat, tileWidth: Storyboard.tileWidth, tileHeight: board.tileHeight, columns: Storyboard.columns)
            let job = ImageJob(inputs: [input, input], picture: .storyboard(grid))
            _ = job.arguments(output: "/o", script: "/s") + [job.script ?? ""]
        }
    }

    /// A recording's MPEG-TS read back (as static renditions are built), in two reads, into a movie.
    static func tsdemux(_ buffer: ByteBuffer) {
        var demuxer = TransportStreamDemuxer()
        var samples: [MediaSample] = []
        for part in split(buffer) { samples += demuxer.read(part) }
        movie(samples, video: demuxer.video.map(MediaTrack.h264), audio: demuxer.audio.map(MediaTrack.aac))
    }

    /// `[init length: 2][init section][fragments]`: a CMAF recording read back into a movie.
    static func fragments(_ buffer: ByteBuffer) {
        var buffer = buffer
        guard let length = buffer.readInteger(as: UInt16.self), let initialization = buffer.readSlice(length: min(Int(length), buffer.readableBytes)),
              let reader = try? FragmentReader(initialization: initialization), let samples = try? reader.samples(in: buffer) else { return }
        let tracks = reader.tracks.values.map(\.track)
        movie(samples, video: tracks.first { $0.kind == .video }, audio: tracks.first { $0.kind == .audio })
    }

    /// A progressive movie of the samples (some after a discontinuity) must read back as ftyp, moov, mdat.
    static func movie(_ samples: [MediaSample], video: MediaTrack?, audio: MediaTrack?) {
        var movie = ProgressiveMovie(video: video, audio: audio)
        for (index, sample) in samples.enumerated() { movie.add(sample, startsDiscontinuity: index % 7 == 3) }
        var bytes = movie.header()
        for sample in samples where movie.includes(sample.kind) { bytes.writeImmutableBuffer(sample.payload) }
        precondition((try? BoxReader.read(bytes))?.map(\.type) == ["ftyp", "moov", "mdat"], "a movie that is not ftyp, moov, mdat")
    }

    /// Splits at a position taken from the first byte, so partial reads get exercised too.
    static func split(_ buffer: ByteBuffer) -> [ByteBuffer] {
        var buffer = buffer
        guard let first = buffer.readInteger(as: UInt8.self), buffer.readableBytes > 1 else { return [buffer] }
        let at = Int(first) * buffer.readableBytes / 256
        return [buffer.getSlice(at: buffer.readerIndex, length: at)!, buffer.getSlice(at: buffer.readerIndex + at, length: buffer.readableBytes - at)!]
    }
}

/// FLV bodies -> demuxer -> segmenters (MPEG-TS; CMAF with parts), as the packager runs them.
struct MediaPipeline {
    var demuxer = FLVDemuxer(maximumPendingDuration: 90_000, maximumPendingSamples: 64)
    var segmenter = Segmenter(configuration: SegmenterConfiguration(targetDuration: 90_000))
    var cmaf = Segmenter(configuration: SegmenterConfiguration(targetDuration: 90_000, format: .cmaf, partTarget: 9000))
    var bytes = 0
    /// The CMAF parts of the open segment, joined: the segment must be exactly this.
    var parts = ByteBuffer()

    mutating func video(_ timestamp: Int64, _ body: ByteBuffer) {
        handle((try? demuxer.video(timestamp: timestamp, body: body)) ?? [])
    }

    mutating func audio(_ timestamp: Int64, _ body: ByteBuffer) {
        handle((try? demuxer.audio(timestamp: timestamp, body: body)) ?? [])
    }

    mutating func handle(_ events: [FLVDemuxerEvent]) {
        for event in events {
            switch event {
            case .tracks(let video, let audio):
                keep(segmenter.setTracks(video: video, audio: audio))
                keep(cmaf: cmaf.setTracks(video: video, audio: audio))
                if let initialization = cmaf.initialization { precondition((try? BoxReader.read(initialization)) != nil, "init section") }
            case .sample(let sample):
                keep((try? segmenter.append(sample)) ?? [])
                keep(cmaf: (try? cmaf.append(sample)) ?? [])
            }
        }
    }

    mutating func finish() {
        keep(segmenter.finish())
        keep(cmaf: cmaf.finish())
    }

    /// Every MPEG-TS segment must be whole 188-byte packets.
    mutating func keep(_ outputs: [SegmenterOutput]) {
        for segment in outputs.compactMap(\.segment) {
            precondition(segment.bytes.readableBytes % 188 == 0, "a segment of \(segment.bytes.readableBytes) bytes")
            bytes += segment.bytes.readableBytes
        }
    }

    /// Every CMAF part must be well-formed boxes, and every segment its parts joined.
    mutating func keep(cmaf outputs: [SegmenterOutput]) {
        for output in outputs {
            switch output {
            case .part(let part):
                precondition((try? BoxReader.read(part.bytes)) != nil, "a part that is not boxes")
                parts.writeImmutableBuffer(part.bytes)
            case .segment(let segment):
                precondition(segment.bytes == parts, "a segment that is not its parts")
                parts.clear()
            }
        }
    }
}
