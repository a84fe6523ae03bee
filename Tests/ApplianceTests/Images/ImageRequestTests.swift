import Foundation
import NIOCore
import Synchronization
import Testing
@testable import Appliance

@Suite struct ImageRequestTests {
    static func parse(_ file: String, _ parameters: [String: String] = [:]) throws(ImageRequest.Invalid) -> ImageRequest? {
        try ImageRequest.parse(file: file, parameters: parameters)
    }

    @Test func defaultsAreMuxs() throws {
        let thumbnail = try #require(try Self.parse("thumbnail.jpg"))
        #expect(thumbnail.kind == .thumbnail && thumbnail.format == .jpg && thumbnail.time == nil && !thumbnail.latest)
        #expect(thumbnail.width == nil && thumbnail.height == nil && thumbnail.fitMode == .preserve && thumbnail.rotate == 0)
        #expect(thumbnail.audience == "t" && thumbnail.contentType == "image/jpeg")
        let animated = try #require(try Self.parse("animated.gif"))
        #expect(animated.start == 0 && animated.end == 5 && animated.fps == 15 && animated.width == 320 && animated.audience == "g")
        let tall = try #require(try Self.parse("animated.webp", ["height": "200"]))
        #expect(tall.width == nil && tall.height == 200)
        let vtt = try #require(try Self.parse("storyboard.vtt", ["format": "webp"]))
        #expect(vtt.tileFormat == .webp && vtt.audience == "s" && vtt.contentType.hasPrefix("text/vtt"))
        #expect(try Self.parse("storyboard.png")?.tileFormat == .png)
    }

    @Test(arguments: ["thumbnail.gif", "animated.jpg", "storyboard.mp4", "thumbnail", "thumbnail.jpg.jpg", "index.m3u8", "Thumbnail.jpg"])
    func otherNamesAreNotImages(file: String) throws {
        #expect(try Self.parse(file) == nil)
    }

    @Test func optionsAreRead() throws {
        let request = try #require(try Self.parse("thumbnail.webp", ["time": "12.5", "width": "640", "height": "360.0", "rotate": "270",
                                                                    "fit_mode": "smartcrop", "flip_v": "true", "flip_h": "1", "junk": "x"]))
        #expect(request.time == 12.5 && request.width == 640 && request.height == 360 && request.rotate == 270)
        #expect(request.fitMode == .smartcrop && request.flipVertical && request.flipHorizontal)
        #expect(try Self.parse("thumbnail.png", ["latest": "true"])?.latest == true)
        let animated = try #require(try Self.parse("animated.gif", ["start": "3", "end": "13", "fps": "30", "width": "640", "height": "640"]))
        #expect(animated.start == 3 && animated.end == 13 && animated.fps == 30)
        #expect(try Self.parse("animated.gif", ["start": "7"])?.end == 12)
    }

    @Test(arguments: [
        ("thumbnail.jpg", ["width": "0"], "width"), ("thumbnail.jpg", ["width": "4097"], "width"),
        ("thumbnail.jpg", ["width": "1.5"], "width"), ("thumbnail.jpg", ["height": "1e99"], "height"),
        ("thumbnail.jpg", ["time": "-1"], "time"), ("thumbnail.jpg", ["time": "inf"], "time"), ("thumbnail.jpg", ["time": "1e8"], "time"),
        ("thumbnail.jpg", ["time": String(repeating: "1", count: 40)], "time"),
        ("thumbnail.jpg", ["rotate": "45"], "rotate"), ("thumbnail.jpg", ["rotate": "0"], "rotate"),
        ("thumbnail.jpg", ["fit_mode": "fill"], "fit_mode"), ("thumbnail.jpg", ["fit_mode": "pad", "width": "10"], "fit_mode"),
        ("thumbnail.jpg", ["flip_v": "yes"], "flip_v"), ("thumbnail.jpg", ["latest": "true", "time": "3"], "latest"),
        ("thumbnail.jpg", ["program_time": "1"], "program_time"),
        ("animated.gif", ["end": "10.5"], "end"), ("animated.gif", ["start": "2", "end": "2.2"], "end"),
        ("animated.gif", ["start": "5", "end": "1"], "end"), ("animated.gif", ["fps": "0"], "fps"), ("animated.gif", ["fps": "31"], "fps"),
        ("animated.webp", ["width": "641"], "width"), ("animated.webp", ["height": "700"], "height"),
        ("storyboard.json", ["format": "gif"], "format"), ("storyboard.jpg", ["asset_start_time": "9", "asset_end_time": "9"], "asset_end_time"),
        ("storyboard.vtt", ["program_start_time": "1"], "program_start_time"),
    ])
    func wrongParametersAreRefusedWithTheirName(file: String, parameters: [String: String], name: String) {
        #expect {
            try ImageRequest.parse(file: file, parameters: parameters)
        } throws: { error in
            (error as? ImageRequest.Invalid)?.description.contains(name) == true
        }
    }
}

@Suite struct ImageJobTests {
    static func request(_ file: String, _ parameters: [String: String] = [:]) -> ImageRequest {
        try! ImageRequest.parse(file: file, parameters: parameters)!
    }

    @Test(arguments: [
        (nil, nil, ImageRequest.FitMode.preserve, "null"),
        (320, nil, .preserve, "scale=320:-1"),
        (nil, 90, .preserve, "scale=-1:90"),
        (300, 300, .preserve, "scale=300:300:force_original_aspect_ratio=decrease"),
        (300, 200, .stretch, "scale=300:200,setsar=1"),
        (300, 200, .crop, "scale=300:200:force_original_aspect_ratio=increase,crop=300:200,setsar=1"),
        (300, 200, .smartcrop, "scale=300:200:force_original_aspect_ratio=increase,crop=300:200,setsar=1"),
        (300, 200, .pad, "scale=300:200:force_original_aspect_ratio=decrease,pad=300:200:(ow-iw)/2:(oh-ih)/2,setsar=1"),
    ])
    func fitModesBecomeScaleFilters(width: Int?, height: Int?, mode: ImageRequest.FitMode, filter: String) {
        #expect(ImageJob.fit(width: width, height: height, mode: mode) == filter)
    }

    @Test func flipsComeBeforeTheRotationAndTheFit() {
        let request = Self.request("thumbnail.jpg", ["flip_h": "true", "flip_v": "true", "rotate": "90", "width": "100"])
        #expect(ImageJob.thumbnailFilters(request) == "hflip,vflip,transpose=clock,scale=100:-1")
        #expect(ImageJob.thumbnailFilters(Self.request("thumbnail.jpg", ["rotate": "180"])) == "hflip,vflip,null")
        #expect(ImageJob.thumbnailFilters(Self.request("thumbnail.jpg", ["rotate": "270"])) == "transpose=cclock,null")
    }

    @Test func aThumbnailReadsItsSegmentsWholeAndSeeksAfterDecoding() {
        let job = ImageJob(inputs: [ImageJob.Input(files: ["/h/i.mp4", "/h/a.m4s", "/h/b.m4s"], offset: 1.25)],
                           picture: .thumbnail(Self.request("thumbnail.png")))
        let arguments = job.arguments(output: "/tmp/o", script: "/tmp/s")
        let input = arguments.firstIndex(of: "-i")!
        #expect(arguments[input + 1] == "concat:/h/i.mp4|/h/a.m4s|/h/b.m4s")
        #expect(arguments[input + 2] == "-ss" && arguments[input + 3] == "1.250")  // output -ss: after -i
        #expect(arguments.contains("png") && arguments.suffix(4) == ["-fs", String(ImageJob.maximumOutputBytes), "-y", "/tmp/o"])
        #expect(arguments.filter { $0 == "-threads" }.count == 2 && job.script == nil)
        #expect(ImageJob.Input(files: ["/h/a.ts"]).url == "file:/h/a.ts")
    }

    @Test func anAnimationHasItsLengthRateAndPalette() {
        let job = ImageJob(inputs: [ImageJob.Input(files: ["/h/a.ts"], offset: 0.5)],
                           picture: .animated(Self.request("animated.gif", ["start": "1", "end": "3.5", "fps": "10"])))
        let arguments = job.arguments(output: "/o", script: "/s")
        let t = arguments.firstIndex(of: "-t")!
        #expect(arguments[t + 1] == "2.500")
        #expect(arguments.contains { $0.hasPrefix("[0:v:0]fps=10,scale=320:-1,split") && $0.contains("palettegen") })
        let webp = ImageJob(inputs: [ImageJob.Input(files: ["/h/a.ts"])], picture: .animated(Self.request("animated.webp"))).arguments(output: "/o", script: "/s")
        #expect(webp.contains("libwebp_anim") && webp.contains("fps=15,scale=320:-1"))
    }

    @Test func aStoryboardListsItsInputsWithTheirDurationsAndSelectsOneKeyframeEach() {
        let grid = ImageJob.Grid(format: .jpg, tileWidth: 256, tileHeight: 144, columns: 10)
        let job = ImageJob(inputs: [ImageJob.Input(files: ["/h/a.ts"], duration: 2), ImageJob.Input(files: ["/h/it's.ts"], duration: 1.5),
                                    ImageJob.Input(files: ["/h/i.mp4", "/h/c.m4s"], duration: 2)],
                           picture: .storyboard(grid))
        #expect(job.script == "ffconcat version 1.0\nfile 'file:/h/a.ts'\nduration 2.000\nfile 'file:/h/it'\\''s.ts'\nduration 1.500\n"
                + "file 'concat:/h/i.mp4|/h/c.m4s'\nduration 2.000\n")
        let arguments = job.arguments(output: "/o", script: "/s")
        #expect(arguments.contains("/s") && arguments.contains("nokey"))
        let filter = arguments[arguments.firstIndex(of: "-vf")! + 1]
        let windows = ["between(t\\,-0.100\\,0.500)*(isnan(prev_selected_t)+lt(prev_selected_t\\,-0.100))",
                       "between(t\\,1.900\\,2.500)*(isnan(prev_selected_t)+lt(prev_selected_t\\,1.900))",
                       "between(t\\,3.400\\,4.000)*(isnan(prev_selected_t)+lt(prev_selected_t\\,3.400))"]
        #expect(filter == "select='\(windows.joined(separator: "+"))',scale=256:144,setsar=1,tile=10x1")
        #expect(arguments.starts(with: ["-nostdin"]) && arguments.contains("file,concat"))
    }

    @Test(arguments: [("1764404406123-42.ts", true), ("x-init1.mp4", true), ("a_b.m4s", true), ("../etc/passwd", false),
                      ("a|http:x", false), ("/abs.ts", false), (".hidden", false), ("", false), ("a b.ts", false)])
    func onlyPlainFileNamesReachFFmpeg(name: String, allowed: Bool) {
        #expect(ImageJob.isFileName(name) == allowed)
    }
}

@Suite struct StoryboardTests {
    @Test func fiftyTilesUnderFifteenMinutesAHundredFrom() {
        #expect(Storyboard(start: 0, end: 899, videoSize: nil).count == 50)
        #expect(Storyboard(start: 0, end: 900, videoSize: nil).count == 100)
        #expect(Storyboard(start: 100, end: 999, videoSize: nil).count == 50)  // what it covers counts
        let board = Storyboard(start: 0, end: 30, videoSize: (1280, 720))
        #expect(board.tileHeight == 144 && board.rows == 5 && board.time(of: 1) == 0.6 && board.origin(of: 11) == (256, 144))
        #expect(Storyboard(start: 0, end: 30, videoSize: (1080, 1920)).tileHeight == 456)
        #expect(Storyboard(start: 0, end: 30, videoSize: (0, 0)).tileHeight == 144)
        #expect(Storyboard(start: 0, end: 30, videoSize: (1, 100_000)).tileHeight == 1024)  // bounded
    }

    @Test func theVTTHasOneCuePerTileAndTheJSONMuxsShape() throws {
        let board = Storyboard(start: 10, end: 110, videoSize: (640, 360))
        let vtt = board.vtt(imageURL: "https://h/p/storyboard.jpg")
        #expect(vtt.hasPrefix("WEBVTT\n\n00:00:00.000 --> 00:00:02.000\nhttps://h/p/storyboard.jpg#xywh=0,0,256,144\n"))
        #expect(vtt.components(separatedBy: "#xywh=").count == 51)
        #expect(vtt.hasSuffix("00:01:38.000 --> 00:01:40.000\nhttps://h/p/storyboard.jpg#xywh=2304,576,256,144\n"))
        let json = try JSONSerialization.jsonObject(with: Data(board.json(imageURL: "u").utf8)) as! [String: Any]
        #expect(json["url"] as? String == "u" && json["tile_width"] as? Int == 256 && json["tile_height"] as? Int == 144)
        #expect(json["duration"] as? Double == 100)
        let tiles = json["tiles"] as! [[String: Any]]
        #expect(tiles.count == 50 && tiles[12]["start"] as? Double == 24 && tiles[12]["x"] as? Int == 512 && tiles[12]["y"] as? Int == 144)
        #expect(Storyboard.timestamp(3725.5) == "01:02:05.500")
    }
}

@Suite struct ImageCacheTests {
    static func bytes(_ count: Int) -> ByteBuffer { ByteBuffer(repeating: 7, count: count) }

    @Test func concurrentRequestsForOnePictureDecodeItOnce() async throws {
        let cache = ImageCache(maximumBytes: 1 << 20)
        final class Count: Sendable { let value = Mutex(0) }
        let made = Count()
        try await withThrowingTaskGroup(of: ImageCache.Image.self) { group in
            for _ in 0..<20 {
                group.addTask {
                    try await cache.image("k") { () async throws(ImageDecoder.Failure) -> ByteBuffer in
                        made.value.withLock { $0 += 1 }
                        while cache.waiters("k") < 19 { await Task.yield() }  // held until every other request waits
                        return Self.bytes(100)
                    }
                }
            }
            var tags = Set<String>()
            for try await image in group { tags.insert(image.etag) }
            #expect(tags.count == 1)
        }
        #expect(made.value.withLock { $0 } == 1)
        let again = try await cache.image("k") { () async throws(ImageDecoder.Failure) -> ByteBuffer in Issue.record("decoded again"); return Self.bytes(1) }
        #expect(again.bytes.readableBytes == 100 && again.etag.count == 26 && again.etag.hasPrefix("\""))
    }

    @Test func failuresAreKeptForAWhileButBusyNever() async {
        let cache = ImageCache(maximumBytes: 1 << 20, failureLifetime: .seconds(1))
        let calls = Mutex(0)
        func ask(_ failure: ImageDecoder.Failure) async -> ImageDecoder.Failure? {
            do {
                _ = try await cache.image(failure.description) { () async throws(ImageDecoder.Failure) -> ByteBuffer in
                    calls.withLock { $0 += 1 }
                    throw failure
                }
                return nil
            } catch {
                return error
            }
        }
        #expect(await ask(.undecodable) == .undecodable)
        #expect(await ask(.undecodable) == .undecodable)
        #expect(calls.withLock { $0 } == 1)
        try? await Task.sleep(for: .milliseconds(1100))
        _ = await ask(.undecodable)
        #expect(calls.withLock { $0 } == 2)
        _ = await ask(.busy)
        _ = await ask(.busy)
        #expect(calls.withLock { $0 } == 4)
    }

    @Test func theLeastRecentlyUsedGoFirstAndBytesStayBounded() async throws {
        let cache = ImageCache(maximumBytes: 10_000)
        for index in 0..<30 {
            _ = try await cache.image("k\(index)") { () async throws(ImageDecoder.Failure) -> ByteBuffer in Self.bytes(1000) }
            _ = try await cache.image("k0") { () async throws(ImageDecoder.Failure) -> ByteBuffer in Self.bytes(1000) }  // kept in use
            #expect(cache.bytes <= 10_000)
        }
        let made = Mutex(0)
        _ = try await cache.image("k0") { () async throws(ImageDecoder.Failure) -> ByteBuffer in made.withLock { $0 += 1 }; return Self.bytes(1) }
        _ = try await cache.image("k1") { () async throws(ImageDecoder.Failure) -> ByteBuffer in made.withLock { $0 += 1 }; return Self.bytes(1) }
        #expect(made.withLock { $0 } == 1)  // k0 stayed, k1 went
        // Too big for a quarter of the cache: answered, not kept.
        _ = try await cache.image("big") { () async throws(ImageDecoder.Failure) -> ByteBuffer in Self.bytes(5000) }
        _ = try await cache.image("big") { () async throws(ImageDecoder.Failure) -> ByteBuffer in made.withLock { $0 += 1 }; return Self.bytes(5000) }
        #expect(made.withLock { $0 } == 2)
    }
}
