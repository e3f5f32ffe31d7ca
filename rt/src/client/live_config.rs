//! The service config a channel applies now. The application's settings
//! (builder methods, `default_service_config`) apply until the resolver
//! delivers a config; a resolver's config then replaces them, part by part
//! (what it leaves out stays as the application set it), and an invalid one
//! changes nothing, as in gRPC-Go.

use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;

use super::balancer::{Balancer, LeastRequest, PickFirst, RoundRobin};
use super::health_check::HealthCheck;
use super::retry::{MethodPolicies, Throttle};
use super::service_config::{LbPolicy, ServiceConfig};

/// The settings taken from a service config.
pub(crate) struct Applied {
    pub policies: MethodPolicies,
    pub throttle: Option<Arc<Throttle>>,
    pub balancer: Arc<dyn Balancer>,
    pub health_check: Option<HealthCheck>,
}

/// The applied settings, replaced whole when a resolver's config arrives;
/// calls and picks take the current ones (an `Arc`, cheap to hold).
pub(crate) struct LiveConfig {
    defaults: Arc<Applied>,
    current: Mutex<Arc<Applied>>,
    authority: Bytes,
}

impl LiveConfig {
    pub fn new(defaults: Applied, authority: Bytes) -> Arc<Self> {
        let defaults = Arc::new(defaults);
        Arc::new(LiveConfig { current: Mutex::new(defaults.clone()), defaults, authority })
    }

    fn lock(&self) -> MutexGuard<'_, Arc<Applied>> {
        self.current.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// What applies now.
    pub fn current(&self) -> Arc<Applied> {
        self.lock().clone()
    }

    /// A resolver's (valid) config: the parts it has replace the
    /// application's; the retry token bucket starts full when it is new.
    pub fn apply(&self, config: &ServiceConfig) {
        let d = &self.defaults;
        let applied = Applied {
            policies: if config.method_configs.is_empty() {
                d.policies.clone()
            } else {
                MethodPolicies::from_config(config)
            },
            throttle: config
                .retry_throttling
                .map(|t| Arc::new(Throttle::new(t)))
                .or_else(|| d.throttle.clone()),
            balancer: match config.load_balancing {
                Some(LbPolicy::PickFirst) => Arc::new(PickFirst),
                Some(LbPolicy::RoundRobin) => Arc::new(RoundRobin::default()),
                Some(LbPolicy::LeastRequest { choice_count }) => Arc::new(LeastRequest::new(choice_count)),
                None => d.balancer.clone(),
            },
            health_check: config
                .health_check_service
                .clone()
                .map(|service| HealthCheck { service, authority: self.authority.clone() })
                .or_else(|| d.health_check.clone()),
        };
        *self.lock() = Arc::new(applied);
    }
}
