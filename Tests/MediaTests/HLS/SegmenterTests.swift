import NIOCore
import Testing
@testable import Media

@Suite struct SegmenterTests {
    typealias Fx = MediaFixtures
    static let frame: Int64 = 3000  // 30 fps
    static let aacFrame: Int64 = 1920  // 1024 samples at 48 kHz

    static var videoTrack: MediaTrack { .h264(Fx.record()) }
    static var audioTrack: MediaTrack { .aac(Fx.aac) }

    /// 30 fps video with a keyframe every `gop` frames and 48 kHz AAC, interleaved by DTS, starting at `start`;
    /// `audioLead` shifts audio in the arrival order (positive: audio arrives earlier than its DTS order).
    static func stream(frames: Int, gop: Int, start: Int64 = 0, audio: Bool = true, audioLead: Int64 = 0) -> [MediaSample] {
        var samples: [(order: Int64, sample: MediaSample)] = (0..<frames).map { index in
            let dts = start + Int64(index) * frame
            return (dts, Fx.video(dts: dts, key: index % gop == 0))
        }
        if audio {
            let count = Int(Int64(frames) * frame / aacFrame)
            samples += (0..<count).map { index in
                let dts = start + Int64(index) * aacFrame
                return (dts - audioLead, Fx.audio(dts: dts))
            }
        }
        return samples.sorted { $0.order < $1.order }.map(\.sample)
    }

    static func run(_ segmenter: inout Segmenter, _ samples: [MediaSample]) throws -> [Segment] {
        var segments: [Segment] = []
        for sample in samples { segments += try segmenter.append(sample).compactMap(\.segment) }
        return segments
    }

    static func finished(_ segmenter: inout Segmenter) throws -> Segment {
        let segment = segmenter.finish().last?.segment
        return try #require(segment)
    }

    static func make(video: Bool = true, audio: Bool = true, target: Int64 = 180_000) -> Segmenter {
        var segmenter = Segmenter(configuration: SegmenterConfiguration(targetDuration: target))
        let changed = segmenter.setTracks(video: video ? videoTrack : nil, audio: audio ? audioTrack : nil)
        #expect(changed.isEmpty)
        return segmenter
    }

    @Test(arguments: [
        (30, [0, 180_000, 360_000, 540_000, 720_000]),  // 1 s GOP: cut exactly at 2 s
        (45, [0, 270_000, 540_000, 810_000]),  // 1.5 s GOP: first keyframe at or after 2 s is 3 s
        (22, [0, 198_000, 396_000, 594_000, 792_000]),  // GOP 0.733 s: cut at 2.2 s
    ])
    func cutsAtFirstKeyframeAtOrAfterTarget(gop: Int, starts: [Int64]) throws {
        var segmenter = Self.make()
        var segments = try Self.run(&segmenter, Self.stream(frames: 300, gop: gop))
        segments += [try Self.finished(&segmenter)]
        #expect(segments.map(\.startDTS) == starts)
        #expect(segments.allSatisfy { !$0.discontinuity })
        // Durations sum to the input span: 300 frames of 1/30 s.
        #expect(segments.map(\.duration).reduce(0, +) == 300 * Self.frame)
        for (segment, next) in zip(segments, segments.dropFirst()) {
            #expect(segment.duration == next.startDTS - segment.startDTS)
        }
        let none = segmenter.finish()
        #expect(none.isEmpty)
    }

    @Test func everySegmentIsValidTransportStreamStartingWithTablesAndKeyframe() throws {
        var segmenter = Self.make()
        var segments = try Self.run(&segmenter, Self.stream(frames: 150, gop: 30))
        segments += [try Self.finished(&segmenter)]
        var lastCounter: [UInt16: UInt8] = [:]
        for segment in segments {
            let reader = TransportStreamReader(segment.bytes)
            #expect(reader.packets.prefix(2).map(\.pid) == [0x0000, 0x1000])
            let video = reader.pes(pid: 0x100)
            #expect(video.first?.randomAccess == true)
            #expect(video.first?.pts == segment.startDTS + TransportStreamMuxer.timestampOffset)
            // Audio in a segment never starts before its first keyframe.
            #expect(reader.pes(pid: 0x101).allSatisfy { $0.pts >= video[0].pts })
            // Continuity counters continue across segments.
            for packet in reader.packets where packet.hasPayload {
                if let last = lastCounter[packet.pid] { #expect(packet.continuityCounter == (last + 1) % 16) }
                lastCounter[packet.pid] = packet.continuityCounter
            }
        }
    }

    @Test func framesAndAudioBeforeFirstKeyframeAreDropped() throws {
        var segmenter = Self.make()
        // GOP of 30 starting 10 frames in: keyframes at frames 20, 50, ...
        let samples = Self.stream(frames: 120, gop: 30).map { sample -> MediaSample in
            var sample = sample
            if sample.kind == .video { sample.isKeyframe = (sample.dts / Self.frame) % 30 == 20 }
            return sample
        }
        let segments = try Self.run(&segmenter, samples) + [try Self.finished(&segmenter)]
        #expect(segments.map(\.startDTS) == [20, 80].map { $0 * Self.frame })
        let reader = TransportStreamReader(segments[0].bytes)
        #expect(reader.pes(pid: 0x100).count == 60)
        #expect(reader.pes(pid: 0x101).allSatisfy { $0.pts >= 20 * Self.frame + TransportStreamMuxer.timestampOffset })
    }

    @Test func audioOnlyCutsByTime() throws {
        var segmenter = Self.make(video: false)
        let samples = (0..<300).map { Fx.audio(dts: 5000 + Int64($0) * Self.aacFrame) }
        var segments = try Self.run(&segmenter, samples)
        segments += [try Self.finished(&segmenter)]
        // 180000 / 1920 = 93.75: the 94th frame reaches the target.
        #expect(segments.map(\.startDTS) == [0, 94, 188, 282].map { 5000 + $0 * Self.aacFrame })
        #expect(segments.map(\.duration) == [94, 94, 94, 18].map { $0 * Self.aacFrame })
        for segment in segments {
            let reader = TransportStreamReader(segment.bytes)
            #expect(reader.pes(pid: 0x100).isEmpty)
            #expect(reader.pes(pid: 0x101).allSatisfy { $0.pcr != nil })
        }
    }

    @Test(arguments: [0, 6000, -6000, 90_000])
    func boundariesDoNotDependOnInterleaving(audioLead: Int64) throws {
        var reference = Self.make()
        var referenceSegments = try Self.run(&reference, Self.stream(frames: 200, gop: 30))
        referenceSegments += [try Self.finished(&reference)]
        var segmenter = Self.make()
        var segments = try Self.run(&segmenter, Self.stream(frames: 200, gop: 30, audioLead: audioLead))
        segments += [try Self.finished(&segmenter)]
        #expect(segments.map(\.startDTS) == referenceSegments.map(\.startDTS))
        #expect(segments.map(\.duration) == referenceSegments.map(\.duration))
    }

    @Test func codecChangeClosesSegmentAndMarksDiscontinuity() throws {
        var segmenter = Self.make()
        var segments = try Self.run(&segmenter, Self.stream(frames: 75, gop: 30))
        #expect(segments.count == 1)
        // Same tracks again: nothing happens.
        let changed = segmenter.setTracks(video: Self.videoTrack, audio: Self.audioTrack)
        #expect(changed.isEmpty)
        // New SPS (1080p) and no audio: the open segment closes.
        let sps1080 = [UInt8](tsHex: "67640028acd940780227e5c044000003000400000300c83c60c658")
        let closed = segmenter.setTracks(video: .h264(Fx.record(sps: sps1080)), audio: nil).compactMap(\.segment)
        #expect(closed.map(\.startDTS) == [180_000])
        #expect(closed.first?.duration == 15 * Self.frame)  // 15 frames of 1/30 s (last step estimated)
        segments += closed
        segments += try Self.run(&segmenter, Self.stream(frames: 90, gop: 30, start: 75 * Self.frame, audio: false))
        segments += [try Self.finished(&segmenter)]
        #expect(segments.map(\.discontinuity) == [false, false, true, false])
        let fresh = TransportStreamReader(segments[2].bytes)
        #expect(fresh.sections(pid: 0x1000).first == [UInt8](tsHex: "02b0120001c10000e100f0001be100f00015bd4d56"))
        let sps = fresh.pes(pid: 0x100)[0].payload[10..<(10 + sps1080.count)]
        #expect(Array(sps) == sps1080)
    }

    @Test(arguments: [
        Int64(20 * 90_000),  // forward jump beyond 10 s
        -Int64(30 * 90_000),  // backward step (encoder restart)
        -Int64(3000 + 91),  // one frame back and 91 ticks more: just beyond the 1 ms tolerance
    ])
    func timestampJumpCutsWithDiscontinuityAndNoNegativeDuration(jump: Int64) throws {
        var segmenter = Self.make()
        var segments = try Self.run(&segmenter, Self.stream(frames: 100, gop: 30))
        let resume = 100 * Self.frame + jump
        segments += try Self.run(&segmenter, Self.stream(frames: 100, gop: 30, start: resume))
        segments += [try Self.finished(&segmenter)]
        #expect(segments.allSatisfy { $0.duration >= 0 })
        let index = try #require(segments.firstIndex { $0.discontinuity })
        #expect(segments[index].startDTS == resume)
        #expect(segments.filter(\.discontinuity).count == 1)
        // The segment before the jump ends at its own last frame plus one frame.
        #expect(segments[index - 1].startDTS + segments[index - 1].duration == 100 * Self.frame)
    }

    @Test func smallBackwardJitterWithinToleranceIsNotADiscontinuity() throws {
        var segmenter = Self.make(video: false)
        var segments = try Self.run(&segmenter, [0, 1920, 3840, 3800, 5760].map { Fx.audio(dts: Int64($0)) })
        segments += [try Self.finished(&segmenter)]
        #expect(segments.count == 1 && !segments[0].discontinuity)
    }

    @Test func markDiscontinuityClosesOpenSegmentAndWaitsForKeyframe() throws {
        var segmenter = Self.make()
        var segments = try Self.run(&segmenter, Self.stream(frames: 40, gop: 30))
        segmenter.markDiscontinuity()
        // Reconnect: timestamps restart at 0, first frames are not keyframes.
        let restart = Self.stream(frames: 60, gop: 30).map { sample -> MediaSample in
            var sample = sample
            if sample.kind == .video { sample.isKeyframe = sample.dts == 10 * Self.frame }
            return sample
        }
        segments += try Self.run(&segmenter, restart)
        segments += [try Self.finished(&segmenter)]
        #expect(segments.map(\.discontinuity) == [false, true])
        #expect(segments.map(\.startDTS) == [0, 10 * Self.frame])
        #expect(segments[0].duration == 40 * Self.frame)
    }

    @Test func markDiscontinuityAfterFinishFlagsNextSegment() throws {
        var segmenter = Self.make(video: false)
        _ = try Self.run(&segmenter, [Fx.audio(dts: 0), Fx.audio(dts: 1920)])
        let first = segmenter.finish().last?.segment
        #expect(first?.duration == 3840)
        segmenter.markDiscontinuity()
        let changed = segmenter.setTracks(video: nil, audio: Self.audioTrack)
        #expect(changed.isEmpty)
        _ = try Self.run(&segmenter, [Fx.audio(dts: 0)])
        let segment = try Self.finished(&segmenter)
        #expect(segment.discontinuity && segment.duration == Self.aacFrame)
    }

    @Test func malformedSampleThrowsWithoutChangingState() throws {
        var segmenter = Self.make()
        _ = try Self.run(&segmenter, Self.stream(frames: 10, gop: 30))
        let bad = MediaSample(kind: .video, dts: 10 * Self.frame, pts: 10 * Self.frame, isKeyframe: false,
                              payload: ByteBuffer(bytes: [0, 0, 0, 9, 0x41]))
        #expect(throws: H264Error.self) { try segmenter.append(bad) }
        _ = try Self.run(&segmenter, [Fx.video(dts: 10 * Self.frame, key: false)])
        let segment = try Self.finished(&segmenter)
        #expect(TransportStreamReader(segment.bytes).pes(pid: 0x100).count == 11)
    }

    @Test func samplesBeforeTracksOrForUnknownTracksAreDropped() throws {
        var segmenter = Segmenter(configuration: SegmenterConfiguration())
        let appended = try segmenter.append(Fx.video(dts: 0, key: true))
        #expect(appended.isEmpty)
        let none = segmenter.finish()
        #expect(none.isEmpty)
        let changed = segmenter.setTracks(video: nil, audio: Self.audioTrack)
        #expect(changed.isEmpty)
        let appended2 = try segmenter.append(Fx.video(dts: 0, key: true))
        #expect(appended2.isEmpty)
        let none2 = segmenter.finish()
        #expect(none2.isEmpty)
    }
}
