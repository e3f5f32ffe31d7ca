//! Interceptors: async hooks around every call, on servers and clients. One
//! runs before the call (read or change the request metadata, or reject the
//! call with a status) and after it (see and change the final status), which
//! is enough to wrap a call with timing, logging, auth or metrics.

use std::sync::Arc;

use weir_core::grpc::{Metadata, Status};

use crate::request::CallInfo;
use crate::runtime::BoxFuture;

/// An async hook around calls.
pub trait Interceptor: Send + Sync + 'static {
    /// Before the call. Server: the request metadata as received; client: the
    /// metadata about to be sent. An error rejects the call with that status.
    fn before<'a>(
        &'a self,
        call: &'a CallInfo,
        metadata: &'a mut Metadata,
    ) -> BoxFuture<'a, Result<(), Status>>;

    /// After the call, with its final status (which may be changed: server
    /// side before it is sent, client side before the caller sees it).
    fn after<'a>(&'a self, call: &'a CallInfo, status: &'a mut Status) -> BoxFuture<'a, ()> {
        let _ = (call, status);
        Box::pin(async {})
    }
}

/// An interceptor from a synchronous function of the metadata.
pub fn from_fn<F>(f: F) -> Arc<dyn Interceptor>
where
    F: Fn(&CallInfo, &mut Metadata) -> Result<(), Status> + Send + Sync + 'static,
{
    struct FnInterceptor<F>(F);
    impl<F> Interceptor for FnInterceptor<F>
    where
        F: Fn(&CallInfo, &mut Metadata) -> Result<(), Status> + Send + Sync + 'static,
    {
        fn before<'a>(
            &'a self,
            call: &'a CallInfo,
            md: &'a mut Metadata,
        ) -> BoxFuture<'a, Result<(), Status>> {
            let r = (self.0)(call, md);
            Box::pin(async move { r })
        }
    }
    Arc::new(FnInterceptor(f))
}

/// Runs the `before` hooks in order; stops at the first rejection.
pub(crate) async fn run_before(
    chain: &[Arc<dyn Interceptor>],
    call: &CallInfo,
    metadata: &mut Metadata,
) -> Result<(), Status> {
    for i in chain {
        i.before(call, metadata).await?;
    }
    Ok(())
}

/// Runs the `after` hooks in reverse order (innermost first).
pub(crate) async fn run_after(chain: &[Arc<dyn Interceptor>], call: &CallInfo, status: &mut Status) {
    for i in chain.iter().rev() {
        i.after(call, status).await;
    }
}
