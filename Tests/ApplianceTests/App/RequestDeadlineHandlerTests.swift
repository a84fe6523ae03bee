import Hummingbird
import NIOCore
import NIOEmbedded
import NIOHTTPTypes
import Testing
@testable import Appliance

/// The HTTP deadlines on an EmbeddedChannel with a test clock: slow or silent clients are closed,
/// a request being answered never is.
@Suite struct RequestDeadlineHandlerTests {
    func channel() throws -> EmbeddedChannel {
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandler(RequestDeadlineHandler(requestTimeout: .seconds(10), idleTimeout: .seconds(60)))
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        return channel
    }

    static let head = HTTPRequestPart.head(HTTPRequest(method: .get, scheme: "https", authority: "box", path: "/healthz"))

    @Test func aSilentConnectionIsClosedAtTheRequestTimeout() throws {
        let channel = try channel()
        channel.embeddedEventLoop.advanceTime(by: .seconds(9))
        #expect(channel.isActive)
        channel.embeddedEventLoop.advanceTime(by: .seconds(2))
        #expect(!channel.isActive)
    }

    @Test func aRequestWhoseBodyNeverEndsIsClosed() throws {
        let channel = try channel()
        channel.embeddedEventLoop.advanceTime(by: .seconds(5))
        try channel.writeInbound(Self.head)
        channel.embeddedEventLoop.advanceTime(by: .seconds(9))
        #expect(channel.isActive, "the body's deadline starts at the head")
        channel.embeddedEventLoop.advanceTime(by: .seconds(2))
        #expect(!channel.isActive)
    }

    @Test func aRequestBeingAnsweredIsNeverClosedAndKeepAliveWaitsTheIdleTimeout() throws {
        let channel = try channel()
        try channel.writeInbound(Self.head)
        try channel.writeInbound(HTTPRequestPart.end(nil))
        channel.embeddedEventLoop.advanceTime(by: .seconds(600))
        #expect(channel.isActive, "a slow response is the server's business")
        try channel.writeOutbound(HTTPResponsePart.head(HTTPResponse(status: .ok)))
        try channel.writeOutbound(HTTPResponsePart.end(nil))
        channel.embeddedEventLoop.advanceTime(by: .seconds(59))
        #expect(channel.isActive)
        channel.embeddedEventLoop.advanceTime(by: .seconds(2))
        #expect(!channel.isActive)
    }

    @Test func pipelinedRequestsAnsweredBeforeTheirBodiesKeepTheBodyDeadline() throws {
        let channel = try channel()
        try channel.writeInbound(Self.head)
        try channel.writeOutbound(HTTPResponsePart.head(HTTPResponse(status: .unauthorized)))
        try channel.writeOutbound(HTTPResponsePart.end(nil))  // answered (401) while the body still comes
        channel.embeddedEventLoop.advanceTime(by: .seconds(11))
        #expect(!channel.isActive, "the unread body still had to arrive in time")
    }
}
