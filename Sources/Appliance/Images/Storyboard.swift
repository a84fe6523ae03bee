import Foundation

/// A storyboard's layout, as image.mux.com makes one (mux-api.md §3.3): 50 tiles for an asset under
/// 15 minutes, 100 otherwise, in rows of 10, each 256 px wide (the height keeps the video's aspect
/// ratio). Tile `i` stands for `start + i × (end − start) / count` and shows the keyframe that
/// begins the segment holding that time, so a tile is at most one keyframe interval early. Pure.
struct Storyboard: Sendable, Equatable {
    static let columns = 10
    static let tileWidth = 256

    /// Seconds of the asset it covers.
    var start: Double
    var end: Double
    var count: Int
    var tileHeight: Int

    init(start: Double, end: Double, videoSize: (width: Int, height: Int)?) {
        self.start = start
        self.end = max(start, end)
        count = end - start < 15 * 60 ? 50 : 100
        let aspect = videoSize.flatMap { $0.width > 0 && $0.height > 0 ? Double($0.height) / Double($0.width) : nil } ?? 9.0 / 16.0
        tileHeight = max(2, min(4 * Self.tileWidth, Int((Double(Self.tileWidth) * aspect / 2).rounded()) * 2))
    }

    var rows: Int { (count + Self.columns - 1) / Self.columns }

    /// When tile `index` starts, in seconds of the asset.
    func time(of index: Int) -> Double { start + Double(index) * (end - start) / Double(count) }

    func origin(of index: Int) -> (x: Int, y: Int) { ((index % Self.columns) * Self.tileWidth, (index / Self.columns) * tileHeight) }

    /// WebVTT cues (`start --> end`, then `image#xywh=x,y,w,h`), one per tile.
    func vtt(imageURL: String) -> String {
        var text = "WEBVTT\n"
        for index in 0..<count {
            let (x, y) = origin(of: index)
            let until = index + 1 < count ? time(of: index + 1) : end
            text += "\n\(Self.timestamp(time(of: index) - start)) --> \(Self.timestamp(until - start))\n\(imageURL)#xywh=\(x),\(y),\(Self.tileWidth),\(tileHeight)\n"
        }
        return text
    }

    /// Mux's storyboard.json: `{url, tile_width, tile_height, duration, tiles: [{start, x, y}]}`.
    func json(imageURL: String) -> String {
        struct Tile: Encodable { var start: Double; var x: Int; var y: Int }
        struct Body: Encodable {
            var url: String
            var tile_width: Int
            var tile_height: Int
            var duration: Double
            var tiles: [Tile]
        }
        let tiles = (0..<count).map { index in
            Tile(start: ((time(of: index) - start) * 1000).rounded() / 1000, x: origin(of: index).x, y: origin(of: index).y)
        }
        let body = Body(url: imageURL, tile_width: Self.tileWidth, tile_height: tileHeight, duration: ((end - start) * 1000).rounded() / 1000,
                        tiles: tiles)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(body)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }

    /// `HH:MM:SS.mmm`.
    static func timestamp(_ seconds: Double) -> String {
        let milliseconds = Int((max(0, seconds) * 1000).rounded())
        return String(format: "%02d:%02d:%02d.%03d", milliseconds / 3_600_000, milliseconds / 60_000 % 60, milliseconds / 1000 % 60, milliseconds % 1000)
    }
}
