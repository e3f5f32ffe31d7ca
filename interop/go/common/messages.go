// Package common holds what Weir's gRPC-Go interop peers share: the
// grpc.testing messages, the method paths, flag parsing and repo-relative
// file lookup.
//
// The messages are written by hand from interop/proto/*.proto, not generated:
// Debian's golang-google-grpc-dev ships no interop stubs and there is no
// protoc here. golang/protobuf 1.3 marshals any struct whose fields carry
// `protobuf:"..."` tags, so a message only needs those tags plus the three
// proto.Message methods. Enums are plain int32 fields.
package common

import "github.com/golang/protobuf/proto"

// Method paths of grpc.testing.TestService and friends.
const (
	Service             = "grpc.testing.TestService"
	EmptyCall           = "/grpc.testing.TestService/EmptyCall"
	UnaryCall           = "/grpc.testing.TestService/UnaryCall"
	StreamingOutputCall = "/grpc.testing.TestService/StreamingOutputCall"
	StreamingInputCall  = "/grpc.testing.TestService/StreamingInputCall"
	FullDuplexCall      = "/grpc.testing.TestService/FullDuplexCall"
	HalfDuplexCall      = "/grpc.testing.TestService/HalfDuplexCall"
	UnimplementedCall   = "/grpc.testing.TestService/UnimplementedCall"
	UnimplementedSvc    = "/grpc.testing.UnimplementedService/UnimplementedCall"
)

type Empty struct{}

type BoolValue struct {
	Value bool `protobuf:"varint,1,opt,name=value,proto3"`
}

type Payload struct {
	Type int32  `protobuf:"varint,1,opt,name=type,proto3"`
	Body []byte `protobuf:"bytes,2,opt,name=body,proto3"`
}

type EchoStatus struct {
	Code    int32  `protobuf:"varint,1,opt,name=code,proto3"`
	Message string `protobuf:"bytes,2,opt,name=message,proto3"`
}

type SimpleRequest struct {
	ResponseType       int32       `protobuf:"varint,1,opt,name=response_type,proto3"`
	ResponseSize       int32       `protobuf:"varint,2,opt,name=response_size,proto3"`
	Payload            *Payload    `protobuf:"bytes,3,opt,name=payload,proto3"`
	FillUsername       bool        `protobuf:"varint,4,opt,name=fill_username,proto3"`
	FillOauthScope     bool        `protobuf:"varint,5,opt,name=fill_oauth_scope,proto3"`
	ResponseCompressed *BoolValue  `protobuf:"bytes,6,opt,name=response_compressed,proto3"`
	ResponseStatus     *EchoStatus `protobuf:"bytes,7,opt,name=response_status,proto3"`
	ExpectCompressed   *BoolValue  `protobuf:"bytes,8,opt,name=expect_compressed,proto3"`
}

type SimpleResponse struct {
	Payload    *Payload `protobuf:"bytes,1,opt,name=payload,proto3"`
	Username   string   `protobuf:"bytes,2,opt,name=username,proto3"`
	OauthScope string   `protobuf:"bytes,3,opt,name=oauth_scope,proto3"`
}

type StreamingInputCallRequest struct {
	Payload          *Payload   `protobuf:"bytes,1,opt,name=payload,proto3"`
	ExpectCompressed *BoolValue `protobuf:"bytes,2,opt,name=expect_compressed,proto3"`
}

type StreamingInputCallResponse struct {
	AggregatedPayloadSize int32 `protobuf:"varint,1,opt,name=aggregated_payload_size,proto3"`
}

type ResponseParameters struct {
	Size       int32      `protobuf:"varint,1,opt,name=size,proto3"`
	IntervalUs int32      `protobuf:"varint,2,opt,name=interval_us,proto3"`
	Compressed *BoolValue `protobuf:"bytes,3,opt,name=compressed,proto3"`
}

type StreamingOutputCallRequest struct {
	ResponseType       int32                 `protobuf:"varint,1,opt,name=response_type,proto3"`
	ResponseParameters []*ResponseParameters `protobuf:"bytes,2,rep,name=response_parameters,proto3"`
	Payload            *Payload              `protobuf:"bytes,3,opt,name=payload,proto3"`
	ResponseStatus     *EchoStatus           `protobuf:"bytes,7,opt,name=response_status,proto3"`
}

type StreamingOutputCallResponse struct {
	Payload *Payload `protobuf:"bytes,1,opt,name=payload,proto3"`
}

// The proto.Message methods.

func (m *Empty) Reset()                       { *m = Empty{} }
func (m *BoolValue) Reset()                   { *m = BoolValue{} }
func (m *Payload) Reset()                     { *m = Payload{} }
func (m *EchoStatus) Reset()                  { *m = EchoStatus{} }
func (m *SimpleRequest) Reset()               { *m = SimpleRequest{} }
func (m *SimpleResponse) Reset()              { *m = SimpleResponse{} }
func (m *StreamingInputCallRequest) Reset()   { *m = StreamingInputCallRequest{} }
func (m *StreamingInputCallResponse) Reset()  { *m = StreamingInputCallResponse{} }
func (m *ResponseParameters) Reset()          { *m = ResponseParameters{} }
func (m *StreamingOutputCallRequest) Reset()  { *m = StreamingOutputCallRequest{} }
func (m *StreamingOutputCallResponse) Reset() { *m = StreamingOutputCallResponse{} }

func (m *Empty) String() string                       { return proto.CompactTextString(m) }
func (m *BoolValue) String() string                   { return proto.CompactTextString(m) }
func (m *Payload) String() string                     { return proto.CompactTextString(m) }
func (m *EchoStatus) String() string                  { return proto.CompactTextString(m) }
func (m *SimpleRequest) String() string               { return proto.CompactTextString(m) }
func (m *SimpleResponse) String() string              { return proto.CompactTextString(m) }
func (m *StreamingInputCallRequest) String() string   { return proto.CompactTextString(m) }
func (m *StreamingInputCallResponse) String() string  { return proto.CompactTextString(m) }
func (m *ResponseParameters) String() string          { return proto.CompactTextString(m) }
func (m *StreamingOutputCallRequest) String() string  { return proto.CompactTextString(m) }
func (m *StreamingOutputCallResponse) String() string { return proto.CompactTextString(m) }

func (*Empty) ProtoMessage()                       {}
func (*BoolValue) ProtoMessage()                   {}
func (*Payload) ProtoMessage()                     {}
func (*EchoStatus) ProtoMessage()                  {}
func (*SimpleRequest) ProtoMessage()               {}
func (*SimpleResponse) ProtoMessage()              {}
func (*StreamingInputCallRequest) ProtoMessage()   {}
func (*StreamingInputCallResponse) ProtoMessage()  {}
func (*ResponseParameters) ProtoMessage()          {}
func (*StreamingOutputCallRequest) ProtoMessage()  {}
func (*StreamingOutputCallResponse) ProtoMessage() {}

// Zeros is a payload of n zero bytes.
func Zeros(n int32) *Payload {
	if n < 0 {
		n = 0
	}
	return &Payload{Body: make([]byte, n)}
}
