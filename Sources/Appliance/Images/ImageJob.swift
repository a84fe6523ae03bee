import Foundation

/// One decode for ffmpeg: its inputs (segment files) and the picture asked for, as ffmpeg's arguments.
/// Pure: the controller decides what to read, ``ImageDecoder`` runs it.
///
/// Inputs are read whole, never seeked (ffmpeg's demuxer seek can land past a short segment's only
/// keyframe and decode nothing); `offset` is ffmpeg's output `-ss`, counted from the input's first
/// picture. Several files of one input are read as one stream (`concat:`): segments of one run with
/// the same init section, the init section first for CMAF.
struct ImageJob: Sendable, Hashable {
    struct Input: Sendable, Hashable {
        /// Absolute paths, read one after the other.
        var files: [String]
        /// Seconds from the input's first picture.
        var offset = 0.0
        /// Seconds of media in it (its segments' EXTINF): where the next input starts in a storyboard.
        var duration = 0.0

        var url: String { files.count == 1 ? "file:" + files[0] : "concat:" + files.joined(separator: "|") }
    }

    enum Picture: Sendable, Hashable {
        /// The first picture at or after `offset` of one input.
        case thumbnail(ImageRequest)
        /// `end - start` seconds from `offset` of one input.
        case animated(ImageRequest)
        /// The first keyframe of each input, in a grid.
        case storyboard(Grid)
    }

    /// A storyboard's tiles: their size and format, and how many a row holds.
    struct Grid: Sendable, Hashable {
        var format: ImageRequest.Format
        var tileWidth: Int
        var tileHeight: Int
        var columns: Int
    }

    var inputs: [Input]
    var picture: Picture

    /// The output's largest size: ffmpeg stops writing there (`-fs`).
    static let maximumOutputBytes = 32 * 1024 * 1024

    /// ffmpeg's arguments (after the program's name), writing to `output`; a storyboard reads its
    /// inputs from `script` (holding ``script``).
    func arguments(output: String, script: String) -> [String] {
        // One thread for everything: a job is one core at most, and each thread's stack counts against
        // the job's address-space limit.
        var arguments = ["-nostdin", "-hide_banner", "-loglevel", "error", "-filter_threads", "1", "-threads", "1",
                         "-probesize", "5000000", "-analyzeduration", "2000000"]
        switch picture {
        case .thumbnail(let request):
            let input = inputs[0]
            arguments += Self.localFiles + ["-i", input.url, "-ss", Self.seconds(input.offset), "-map", "0:v:0", "-frames:v", "1", "-an", "-sn", "-dn",
                          "-vf", Self.thumbnailFilters(request)]
            arguments += Self.stillCodec(request.format) + ["-f", "image2", "-update", "1"]
        case .animated(let request):
            let input = inputs[0]
            arguments += Self.localFiles + ["-i", input.url, "-ss", Self.seconds(input.offset), "-t", Self.seconds(request.end - request.start),
                          "-map", "0:v:0", "-an", "-sn", "-dn"]
            let scale = Self.fit(width: request.width, height: request.height, mode: .preserve)
            if request.format == .gif {
                arguments += ["-filter_complex", "[0:v:0]fps=\(request.fps),\(scale),split[a][b];[a]palettegen=stats_mode=diff[p];[b][p]paletteuse=dither=bayer",
                              "-loop", "0", "-f", "gif"]
            } else {
                arguments += ["-vf", "fps=\(request.fps),\(scale)", "-c:v", "libwebp_anim", "-loop", "0", "-quality", "70", "-f", "webp"]
            }
        case .storyboard(let grid):
            // One demuxer reads the inputs one after the other (ffconcat, `script`), each placed at the
            // sum of the durations before it; one decoder decodes keyframes only, and `select` keeps
            // the first near each input's start: a hundred tiles cost the keyframes of a hundred
            // segments and the memory of one decoder.
            var windows: [String] = []
            var start = 0.0
            for input in inputs {
                // One picture per window: the first keyframe in it (none selected since it opened).
                let opens = String(format: "%.3f", start - 0.1)
                windows.append("between(t\\,\(opens)\\,\(Self.seconds(start + min(0.5, input.duration / 2))))"
                               + "*(isnan(prev_selected_t)+lt(prev_selected_t\\,\(opens)))")
                start += input.duration
            }
            let rows = (inputs.count + grid.columns - 1) / grid.columns
            arguments += Self.localFiles + ["-f", "concat", "-safe", "0", "-skip_frame", "nokey", "-i", script,
                          "-map", "0:v:0", "-an", "-sn", "-dn",
                          "-vf", "select='\(windows.joined(separator: "+"))',scale=\(grid.tileWidth):\(grid.tileHeight),setsar=1,"
                              + "tile=\(grid.columns)x\(rows)", "-frames:v", "1"]
            arguments += Self.stillCodec(grid.format) + ["-f", "image2", "-update", "1"]
        }
        return arguments + ["-threads", "1", "-fs", String(Self.maximumOutputBytes), "-y", output]
    }

    /// A storyboard's input list (ffconcat): each input and its duration; nil for other pictures.
    var script: String? {
        guard case .storyboard = picture else { return nil }
        return "ffconcat version 1.0\n" + inputs.map { input in
            "file '\(input.url.replacingOccurrences(of: "'", with: "'\\''"))'\nduration \(Self.seconds(max(0.001, input.duration)))\n"
        }.joined()
    }

    /// Inputs may only be local files, alone or concatenated.
    static let localFiles = ["-protocol_whitelist", "file,concat"]

    /// Whether `name` may be read as a segment or init section: one plain file name (as the packager
    /// and the recorder name them), nothing a playlist on disk could turn into a path or a protocol.
    static func isFileName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.count <= 128 && name.first != "."
            && name.utf8.allSatisfy { ASCII.isAlphanumeric($0) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: ".") }
    }

    /// Flips, then the rotation, then the fit into width × height.
    static func thumbnailFilters(_ request: ImageRequest) -> String {
        var filters: [String] = []
        if request.flipHorizontal { filters.append("hflip") }
        if request.flipVertical { filters.append("vflip") }
        switch request.rotate {
        case 90: filters.append("transpose=clock")
        case 180: filters += ["hflip", "vflip"]
        case 270: filters.append("transpose=cclock")
        default: break
        }
        filters.append(fit(width: request.width, height: request.height, mode: request.fitMode))
        return filters.joined(separator: ",")
    }

    /// The scale (and crop or pad) that makes a picture `width` × `height` as `mode` says; one side
    /// alone keeps the aspect ratio; neither keeps the source's size.
    static func fit(width: Int?, height: Int?, mode: ImageRequest.FitMode) -> String {
        guard let width, let height else {
            if let width { return "scale=\(width):-1" }
            if let height { return "scale=-1:\(height)" }
            return "null"
        }
        let size = "\(width):\(height)"
        switch mode {
        case .preserve: return "scale=\(size):force_original_aspect_ratio=decrease"
        case .stretch: return "scale=\(size),setsar=1"
        case .crop, .smartcrop: return "scale=\(size):force_original_aspect_ratio=increase,crop=\(size),setsar=1"
        case .pad: return "scale=\(size):force_original_aspect_ratio=decrease,pad=\(size):(ow-iw)/2:(oh-ih)/2,setsar=1"
        }
    }

    private static func stillCodec(_ format: ImageRequest.Format) -> [String] {
        switch format {
        case .png: ["-c:v", "png", "-pix_fmt", "rgb24"]
        case .webp: ["-c:v", "libwebp", "-quality", "80", "-pix_fmt", "yuv420p"]
        default: ["-c:v", "mjpeg", "-q:v", "3", "-pix_fmt", "yuvj420p"]
        }
    }

    private static func seconds(_ value: Double) -> String {
        String(format: "%.3f", max(0, value))
    }
}
