import NIOCore

// RTMP 1.0 §7.2 Command Messages, as a publish-only server answers them (and the FMLE/OBS
// additions releaseStream, FCPublish, FCUnpublish that nginx-rtmp and SRS also answer).
//
//   connect       -> Window Ack Size, Set Peer Bandwidth, Set Chunk Size, _result
//   releaseStream -> _result          FCPublish -> _result        createStream -> _result(id)
//   publish       -> .publishRequested (onStatus follows acceptPublish/rejectPublish)
//   FCUnpublish / closeStream / deleteStream -> .unpublished
//   play          -> onStatus error NetStream.Play.Failed (ingest only)
//   other         -> _error when a reply is expected (transaction id > 0)

extension RTMPServerSession {
    /// Dispatches one decoded command.
    mutating func command(_ command: RTMPCommand, _ message: RTMPMessage, _ outbox: inout RTMPSessionOutbox) throws {
        let transaction = command.transactionID
        switch command.name {
        case "connect":
            connect(command, &outbox)
        case "releaseStream", "FCPublish":
            reply(RTMPCommand(name: "_result", transactionID: transaction, commandObject: .null, arguments: [.undefined]), &outbox)
        case "createStream":
            let id = nextStreamID
            nextStreamID = nextStreamID == UInt32.max ? 1 : nextStreamID + 1
            reply(RTMPCommand(name: "_result", transactionID: transaction, commandObject: .null, arguments: [.number(Double(id))]), &outbox)
        case "publish":
            try publish(command, message, &outbox)
        case "FCUnpublish":
            if transaction > 0 {
                reply(RTMPCommand(name: "_result", transactionID: transaction, commandObject: .null, arguments: [.undefined]), &outbox)
            }
            unpublish(&outbox)
        case "closeStream":
            if message.messageStreamID == publish?.messageStreamID { unpublish(&outbox) }
        case "deleteStream":
            let id = command.arguments.first?.numberValue
            if let publish, id.map({ $0 == Double(publish.messageStreamID) }) ?? true { unpublish(&outbox) }
        case "play", "play2":
            let status = RTMPCommand.onStatus(level: "error", code: "NetStream.Play.Failed",
                                              description: "This server accepts publishing only.")
            send(status.message(messageStreamID: message.messageStreamID), chunkStreamID: Self.statusChunkStream, &outbox)
        case "_result", "_error", "onStatus", "onBWDone":
            break  // replies to calls we never make, or notifications
        default:
            guard transaction > 0 else { return }
            let information = AMFValue.object(pairs: [
                "level": .string("error"),
                "code": .string("NetConnection.Call.Failed"),
                "description": .string("Method not found (\(command.name))."),
            ])
            reply(RTMPCommand(name: "_error", transactionID: transaction, commandObject: .null, arguments: [information]), &outbox)
        }
    }

    private mutating func connect(_ command: RTMPCommand, _ outbox: inout RTMPSessionOutbox) {
        let app = command.commandObject["app"]?.stringValue ?? ""
        let tcUrl = command.commandObject["tcUrl"]?.stringValue
        let objectEncoding = command.commandObject["objectEncoding"]?.numberValue ?? 0
        self.app = app

        let control = RTMPControlMessage.chunkStreamID
        send(RTMPControlMessage.windowAcknowledgementSize(configuration.windowAcknowledgementSize), chunkStreamID: control, &outbox)
        send(RTMPControlMessage.setPeerBandwidth(configuration.peerBandwidth, limitType: 2), chunkStreamID: control, &outbox)
        send(RTMPControlMessage.setChunkSize(configuration.outgoingChunkSize), chunkStreamID: control, &outbox)
        encoder.chunkSize = configuration.outgoingChunkSize

        let properties = AMFValue.object(pairs: [
            "fmsVer": .string("FMS/3,0,1,123"),
            "capabilities": .number(31),
        ])
        let information = AMFValue.object(pairs: [
            "level": .string("status"),
            "code": .string("NetConnection.Connect.Success"),
            "description": .string("Connection succeeded."),
            "objectEncoding": .number(objectEncoding),
        ])
        reply(RTMPCommand(name: "_result", transactionID: command.transactionID, commandObject: properties,
                          arguments: [information]), &outbox)
        outbox.append(.connected(app: app, tcUrl: tcUrl))
    }

    private mutating func publish(_ command: RTMPCommand, _ message: RTMPMessage, _ outbox: inout RTMPSessionOutbox) throws {
        guard let name = command.arguments.first?.stringValue else {
            throw RTMPError.malformedCommand(name: command.name, reason: "no stream name")
        }
        let streamName = String(name.prefix { $0 != "?" })
        guard publish == nil else {
            // One publish per connection; a second one is refused without disturbing the first.
            let status = RTMPCommand.onStatus(level: "error", code: "NetStream.Publish.BadName",
                                              description: "This connection is already publishing.")
            send(status.message(messageStreamID: message.messageStreamID), chunkStreamID: Self.statusChunkStream, &outbox)
            return
        }
        publish = Publish(messageStreamID: message.messageStreamID, name: streamName, accepted: false)
        outbox.append(.publishRequested(app: app ?? "", streamName: streamName))
    }

    /// Ends the publish (accepted or still awaiting the owner's decision) and tells the owner.
    private mutating func unpublish(_ outbox: inout RTMPSessionOutbox) {
        guard let ended = publish else { return }
        publish = nil
        clocks = [:]
        if ended.accepted {
            let status = RTMPCommand.onStatus(level: "status", code: "NetStream.Unpublish.Success",
                                              description: "\(ended.name) is now unpublished.", details: ended.name)
            send(status.message(messageStreamID: ended.messageStreamID), chunkStreamID: Self.statusChunkStream, &outbox)
        }
        outbox.append(.unpublished)
    }

    private func reply(_ command: RTMPCommand, _ outbox: inout RTMPSessionOutbox) {
        send(command.message(), chunkStreamID: Self.commandChunkStream, &outbox)
    }
}
