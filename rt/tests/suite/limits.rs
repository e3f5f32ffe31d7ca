//! Per-channel message size limits set with the endpoint's builder.

use bytes::Bytes;
use weir_rt::runtime::Net;
use weir_rt::{Code, Endpoint};

use super::{req, start, test_server};

/// `max_recv_message_size` refuses a larger response, and
/// `max_send_message_size` a larger request, with RESOURCE_EXHAUSTED; both
/// let smaller ones through.
pub async fn endpoint_message_size_limits<R: Net + Default>(rt: R) {
    let server = start(&rt, test_server(rt.clone(), Default::default())).await;
    let ch = Endpoint::<R>::with_runtime(rt.clone(), server.url())
        .unwrap()
        .max_recv_message_size(64 << 10)
        .max_send_message_size(96 << 10)
        .connect()
        .await
        .unwrap();
    // The test service echoes: what is sent comes back.
    let ok = ch.unary("/test.Test/Unary", req(Bytes::from(vec![1u8; 60 << 10]))).await.unwrap();
    assert_eq!(ok.into_inner().len(), 60 << 10);
    let too_big_back = ch.unary("/test.Test/Unary", req(Bytes::from(vec![1u8; 80 << 10]))).await.unwrap_err();
    assert_eq!(too_big_back.code, Code::ResourceExhausted, "{too_big_back:?}");
    let too_big_out = ch.unary("/test.Test/Unary", req(Bytes::from(vec![1u8; 100 << 10]))).await.unwrap_err();
    assert_eq!(too_big_out.code, Code::ResourceExhausted, "{too_big_out:?}");
    assert!(too_big_out.message.contains("send"), "{too_big_out:?}");
    server.stop().await;
}
