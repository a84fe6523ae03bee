import NIOCore
import Testing
@testable import Media

/// The Segmenter with CMAF and parts: where parts close, INDEPENDENT, and segments as their parts joined.
@Suite struct SegmenterPartsTests {
    typealias Fx = MediaFixtures
    typealias S = SegmenterTests

    static func make(video: Bool = true, audio: Bool = true, part: Int64 = 30_060, target: Int64 = 180_000) -> Segmenter {
        var segmenter = Segmenter(configuration: SegmenterConfiguration(targetDuration: target, format: .cmaf, partTarget: part))
        _ = segmenter.setTracks(video: video ? S.videoTrack : nil, audio: audio ? S.audioTrack : nil)
        return segmenter
    }

    static func run(_ segmenter: inout Segmenter, _ samples: [MediaSample]) throws -> [SegmenterOutput] {
        var outputs: [SegmenterOutput] = []
        for sample in samples { outputs += try segmenter.append(sample) }
        return outputs + segmenter.finish()
    }

    @Test(arguments: [
        (3000, 10, 6),   // 30 fps: 10 frames a part, 6 parts per 2 s segment
        (3600, 8, 7),    // 25 fps: 8 frames (0.32 s); the 7th part of a 2 s segment is 2 frames
        (1500, 20, 6),   // 60 fps: 20 frames
    ] as [(Int64, Int, Int)])
    func partsAreWholeFramesWithinTheTarget(frame: Int64, framesPerPart: Int, partsPerSegment: Int) throws {
        var segmenter = Self.make(audio: false)
        let gop = Int(180_000 / frame)
        let samples = (0..<(gop * 3)).map { Fx.video(dts: Int64($0) * frame, key: $0 % gop == 0) }
        let outputs = try Self.run(&segmenter, samples)
        let parts = outputs.compactMap(\.part), segments = outputs.compactMap(\.segment)
        #expect(segments.count == 3)
        #expect(parts.allSatisfy { $0.duration <= 30_060 })
        #expect(parts.first?.duration == Int64(framesPerPart) * frame)
        #expect(parts.count == 3 * partsPerSegment)
        // Every segment's first part starts at its keyframe and is the only independent one.
        #expect(parts.map(\.independent) == Array(repeating: [true] + Array(repeating: false, count: partsPerSegment - 1), count: 3).flatMap { $0 })
        // Parts tile the timeline: each starts where the previous ended.
        for (part, next) in zip(parts, parts.dropFirst()) { #expect(part.startDTS + part.duration == next.startDTS) }
    }

    @Test func aDroppedFrameOrMillisecondJitterNeverMakesAPartLongerThanTheTarget() throws {
        // RTMP's whole milliseconds (33, 34, 33 ms steps), and frames 25 and 26 missing.
        var segmenter = Self.make(audio: false)
        let frames = (0..<180).filter { $0 != 25 && $0 != 26 }
        let samples = frames.map { Fx.video(dts: Int64(($0 * 1000 + 15) / 30) * 90, key: $0 % 60 == 0) }
        let parts = try Self.run(&segmenter, samples).compactMap(\.part)
        #expect(parts.allSatisfy { $0.duration <= 30_060 + 180 }, "\(parts.map(\.duration))")
        for (part, next) in zip(parts, parts.dropFirst()) { #expect(part.startDTS + part.duration == next.startDTS) }
    }

    @Test func aSegmentIsItsPartsJoinedAndComesRightAfterItsLastPart() throws {
        var segmenter = Self.make()
        let outputs = try Self.run(&segmenter, S.stream(frames: 120, gop: 60))
        var pending = ByteBuffer()
        for output in outputs {
            switch output {
            case .part(let part): pending.writeImmutableBuffer(part.bytes)
            case .segment(let segment):
                #expect(segment.bytes == pending)
                pending.clear()
            }
        }
        #expect(outputs.last?.segment != nil)
        // Every part is moof+mdat pairs, the audio carried in them too.
        for part in outputs.compactMap(\.part) {
            let types = try BoxReader.read(part.bytes).map(\.type.description)
            #expect(types.count % 2 == 0 && types.enumerated().allSatisfy { $0.element == ($0.offset % 2 == 0 ? "moof" : "mdat") })
        }
    }

    @Test func audioBetweenTheLastPartAndTheKeyframeOpensTheNextSegment() throws {
        // Audio arrives 5 ms after the video it goes with: after a part closes on its last frame and
        // before the next keyframe. No part may be empty of video or last no time.
        var segmenter = Self.make()
        let outputs = try Self.run(&segmenter, S.stream(frames: 180, gop: 60, audioLead: -450))
        let parts = outputs.compactMap(\.part)
        #expect(parts.allSatisfy { $0.duration == 30_000 }, "\(parts.map(\.duration))")
        #expect(parts.count == 18, "the audio after the last frame makes no part of no duration")
    }

    @Test func longGOPsKeepPartsFlowingAndCutSegmentsLate() throws {
        // Keyframes every 10 s with a 2 s target: segments of 10 s, parts every 1/3 s all the same.
        var segmenter = Self.make(audio: false)
        let samples = (0..<900).map { Fx.video(dts: Int64($0) * 3000, key: $0 % 300 == 0) }
        let outputs = try Self.run(&segmenter, samples)
        #expect(outputs.compactMap(\.segment).map(\.duration) == [900_000, 900_000, 900_000])
        #expect(outputs.compactMap(\.part).count == 90)
        #expect(outputs.compactMap(\.part).filter { $0.independent }.count == 3)
    }

    @Test func audioOnlyPartsAreWholeAACFramesAndAllIndependent() throws {
        var segmenter = Self.make(video: false)
        let samples = (0..<400).map { Fx.audio(dts: Int64($0) * S.aacFrame) }
        let outputs = try Self.run(&segmenter, samples)
        let parts = outputs.compactMap(\.part)
        #expect(parts.allSatisfy { $0.independent })
        // 15 frames (0.32 s of 0.334) but for each segment's last part (cut at the 2 s target).
        let lasts = zip(outputs, outputs.dropFirst()).filter { $0.1.segment != nil }.compactMap { $0.0.part }
        #expect(lasts.count == outputs.compactMap(\.segment).count)
        #expect(parts.filter { !lasts.contains($0) }.allSatisfy { $0.duration == 15 * S.aacFrame }, "\(parts.map(\.duration))")
    }

    @Test func discontinuityIsCarriedByEveryPartOfTheSegment() throws {
        var segmenter = Self.make()
        var outputs = try Self.run(&segmenter, S.stream(frames: 60, gop: 60))
        segmenter.markDiscontinuity()
        for sample in S.stream(frames: 60, gop: 60, start: 60 * 3000) { outputs += try segmenter.append(sample) }
        outputs += segmenter.finish()
        let flags = outputs.compactMap(\.part).map(\.discontinuity)
        #expect(flags == Array(repeating: false, count: 6) + Array(repeating: true, count: 6))
    }

    @Test func withoutAPartTargetCMAFSegmentsAreOneFragment() throws {
        var segmenter = Segmenter(configuration: SegmenterConfiguration(format: .cmaf))
        _ = segmenter.setTracks(video: S.videoTrack, audio: S.audioTrack)
        let outputs = try Self.run(&segmenter, S.stream(frames: 120, gop: 60))
        #expect(outputs.compactMap(\.part).isEmpty)
        for segment in outputs.compactMap(\.segment) {
            #expect(try BoxReader.read(segment.bytes).map(\.type.description) == ["moof", "mdat"])
        }
        #expect(segmenter.initialization != nil)
    }
}
