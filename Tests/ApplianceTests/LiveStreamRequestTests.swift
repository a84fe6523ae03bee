import Foundation
import Media
import NIOCore
import Testing
@testable import Appliance

@Suite struct LiveStreamRequestTests {
    func request(_ json: String) throws -> LiveStreamRequest { try LiveStreamRequest(body: ByteBuffer(string: json)) }

    @Test func emptyBodiesAreEmptyObjects() throws {
        var empty = try LiveStreamRequest(body: ByteBuffer())
        let new = try empty.newLiveStream()
        #expect(new.playbackPolicies.isEmpty, "no policy, no playback ID (as Mux)")
        #expect(new.reconnectWindow == 60 && new.maxContinuousDuration == 43200 && new.latencyMode == .standard)
    }

    @Test func sdkCreateBodyIsRead() throws {
        var body = try request("""
            {"playback_policies":["public","signed"],"new_asset_settings":{"playback_policies":["public"]},
             "reconnect_window":30.5,"max_continuous_duration":600,"latency_mode":"low","passthrough":"x",
             "use_slate_for_standard_latency":false,"meta":{"title":"Sunday"},"unknown_field":[1,2,3]}
            """)
        let new = try body.newLiveStream()
        #expect(new.playbackPolicies == [.public, .signed])
        #expect(new.reconnectWindow == 30.5 && new.maxContinuousDuration == 600 && new.latencyMode == .low)
        #expect(new.passthrough == "x" && new.title == "Sunday")
        #expect(new.newAssetSettings == #"{"playback_policies":["public"]}"#)
    }

    @Test func singlePolicyStringAndDeprecatedAlias() throws {
        var one = try request(#"{"playback_policy":"public"}"#)
        #expect(try one.newLiveStream().playbackPolicies == [.public])
    }

    @Test(arguments: [
        (#"{"reconnect_window":"abc"}"#, "reconnect_window must be a number"),
        (#"{"reconnect_window":1801}"#, "reconnect_window must be between 0 and 1800"),
        (#"{"max_continuous_duration":59}"#, "max_continuous_duration must be between 60 and 43200"),
        (#"{"max_continuous_duration":60.5}"#, "max_continuous_duration must be an integer"),
        (#"{"audio_only":"yes"}"#, "audio_only must be a boolean"),
        (#"{"audio_only":1}"#, "audio_only must be a boolean"),
        (#"{"latency_mode":"fast"}"#, "latency_mode must be one of"),
        (#"{"playback_policies":["drm"]}"#, "drm playback is not supported"),
        (#"{"playback_policies":[1]}"#, "playback_policies entries must be strings"),
        (#"{"passthrough":"\#(String(repeating: "a", count: 256))"}"#, "passthrough must be at most 255"),
        (#"{"meta":{"title":5}}"#, "meta.title must be a string"),
        (#"{"new_asset_settings":[]}"#, "new_asset_settings must be an object"),
        (#"{"reconnect_window":null}"#, "reconnect_window must be a number, not null"),
        (#"{"meta":{"title":null}}"#, "meta.title must be a string"),
    ])
    func badFieldsAreNamed(json: String, message: String) throws {
        var body = try request(json)
        do {
            _ = try body.newLiveStream()
            Issue.record("accepted \(json)")
        } catch let error as MuxError {
            #expect(error.status == .badRequest && error.type == "invalid_parameters")
            #expect(error.messages.contains { $0.contains(message) }, "\(error.messages)")
        }
    }

    @Test(arguments: ["{", "[]", "\"x\"", "nul", "{\"a\":}"])
    func malformedJSONIsRejected(json: String) {
        #expect(throws: MuxError.self) {
            var body = try request(json)
            _ = try body.newLiveStream()
        }
    }

    @Test func updateLeavesAbsentFieldsAlone() throws {
        var body = try request(#"{"passthrough":"","reconnect_window":0}"#)
        let update = try body.update()
        #expect(update.passthrough == "" && update.reconnectWindow == 0)
        #expect(update.latencyMode == nil && update.maxContinuousDuration == nil && update.title == nil)
    }
}

@Suite struct AccessTokensTests {
    let tokens = AccessTokens([
        .init(id: "writer", secret: .plain("0123456789abcdef"), permissions: [.write]),
    ])

    func basic(_ user: String, _ password: String) -> String {
        "Basic " + Data("\(user):\(password)".utf8).base64EncodedString()
    }

    @Test func plainSecretsAuthenticate() {
        #expect(tokens.permissions(authorization: basic("writer", "0123456789abcdef")) == [.write])
        #expect(tokens.permissions(authorization: basic("writer", "0123456789abcdeF")) == nil)
        #expect(tokens.permissions(authorization: basic("nobody", "0123456789abcdef")) == nil)
    }

    @Test func hashedSecretsAuthenticate() {
        // sha256("reader-secret-123"), computed by Python's hashlib: independent of the code under test.
        let digest = "5260d67fd50695af8af6a04964d9a70cf2b54f3a90761d254f8ef388d58f284e"
        let hashed = AccessTokens([.init(id: "reader", secret: .sha256(hex: digest), permissions: [.read])])
        #expect(hashed.permissions(authorization: basic("reader", "reader-secret-123")) == [.read])
        #expect(hashed.permissions(authorization: basic("reader", "reader-secret-124")) == nil)
        let upper = AccessTokens([.init(id: "reader", secret: .sha256(hex: digest.uppercased()), permissions: [.read])])
        #expect(upper.permissions(authorization: basic("reader", "reader-secret-123")) == [.read])
    }

    @Test func constantTimeComparison() {
        #expect(AccessTokens.constantTimeEquals([1, 2, 3], [1, 2, 3]))
        #expect(!AccessTokens.constantTimeEquals([1, 2, 3], [1, 2, 4]))
        #expect(!AccessTokens.constantTimeEquals([1, 2, 3], [1, 2, 3, 4]))
        #expect(!AccessTokens.constantTimeEquals([0x80, 2, 3], [0, 2, 3]))
    }

    @Test(arguments: [nil, "", "Bearer x", "Basic !!!", "Basic " + Data("no-colon".utf8).base64EncodedString()])
    func malformedHeadersAreRefused(header: String?) {
        #expect(tokens.permissions(authorization: header) == nil)
    }

    @Test func reloadReplacesTokens() {
        let reloadable = AccessTokens([.init(id: "a", secret: .plain("0123456789abcdef"), permissions: [.write])])
        reloadable.replace(with: [.init(id: "b", secret: .plain("fedcba9876543210"), permissions: [.read])])
        #expect(reloadable.permissions(authorization: basic("a", "0123456789abcdef")) == nil)
        #expect(reloadable.permissions(authorization: basic("b", "fedcba9876543210")) == [.read])
    }
}

@Suite struct ByteRangeTests {
    @Test(arguments: [
        ("bytes=0-187", 1000, 0...187 as ClosedRange<Int>?),
        ("bytes=900-", 1000, 900...999),
        ("bytes=-100", 1000, 900...999),
        ("bytes=500-5000", 1000, 500...999),
        ("bytes=1000-", 1000, nil),
        ("bytes=5-1", 1000, nil),
        ("bytes=0-1,5-6", 1000, nil),
        ("items=0-1", 1000, nil),
        ("bytes=-0", 1000, nil),
        ("bytes=abc", 1000, nil),
    ])
    func ranges(header: String, size: Int, expected: ClosedRange<Int>?) {
        #expect(PlaybackController.byteRange(header, size: size) == expected)
    }
}

@Suite struct JSONParserTests {
    @Test func parsesEveryKind() throws {
        let value = try JSONParser.parse(Array(#" {"a":[1,-2.5e3,true,false,null,"x\u00e9\ud83d\ude00\n"],"b":{}} "#.utf8))
        #expect(value == .object(["a": .array([.number(1), .number(-2500), .bool(true), .bool(false), .null, .string("xé😀\n")]),
                                  "b": .object([:])]))
    }

    @Test(arguments: [#"{"a": 1,}"#, "[1,]", "{'a':1}", "01", "1.", ".5", "+1", "-", "tru", "\"a", "\"\u{01}\"", #""\x""#,
                      #""\ud800""#, "{\"a\" 1}", "[1 2]", "{} {}", "NaN", "1e999", #"{"a":1,"a":2}"#, "\u{FF}", ""])
    func rejectsWhatIsNotJSON(text: String) {
        #expect(throws: JSONParser.Failure.self) { try JSONParser.parse(Array(text.utf8)) }
    }

    @Test func nestingIsLimited() throws {
        #expect(throws: JSONParser.Failure.tooDeep(limit: 32)) { try JSONParser.parse(Array((String(repeating: "[", count: 33) + String(repeating: "]", count: 33)).utf8)) }
        _ = try JSONParser.parse(Array((String(repeating: "[", count: 32) + String(repeating: "]", count: 32)).utf8))
    }
}
