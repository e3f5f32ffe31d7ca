//! The service config a channel applies now. The application's settings
//! (builder methods, `default_service_config`) apply until the resolver
//! delivers a config; a resolver's config then replaces them, part by part
//! (what it leaves out stays as the application set it), and an invalid one
//! changes nothing, as in gRPC-Go.

use std::sync::{Arc, RwLock};

use bytes::Bytes;

use super::balancer::Balancer;
use super::health_check::HealthCheck;
use super::outlier::OutlierDetection;
use super::retry::{MethodPolicies, Throttle};
use super::service_config::ServiceConfig;

/// The settings taken from a service config.
pub(crate) struct Applied {
    pub policies: MethodPolicies,
    pub throttle: Option<Arc<Throttle>>,
    pub balancer: Arc<dyn Balancer>,
    pub health_check: Option<HealthCheck>,
    pub outlier_detection: Option<OutlierDetection>,
}

/// The applied settings, replaced whole when a resolver's config arrives;
/// calls and picks take the current ones (an `Arc`, cheap to hold; the
/// lock is a read lock, so calls on many threads do not wait for each other).
pub(crate) struct LiveConfig {
    defaults: Arc<Applied>,
    current: RwLock<Arc<Applied>>,
    authority: Bytes,
}

impl LiveConfig {
    pub fn new(defaults: Applied, authority: Bytes) -> Arc<Self> {
        let defaults = Arc::new(defaults);
        Arc::new(LiveConfig { current: RwLock::new(defaults.clone()), defaults, authority })
    }

    /// What applies now.
    pub fn current(&self) -> Arc<Applied> {
        self.current.read().unwrap_or_else(|e| e.into_inner()).clone()
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
            balancer: match &config.load_balancing {
                Some(policy) => policy.balancer(),
                None => d.balancer.clone(),
            },
            // Part of the balancing config: a config naming a balancer
            // without it turns it off.
            outlier_detection: match &config.load_balancing {
                Some(_) => config.outlier_detection.clone(),
                None => d.outlier_detection.clone(),
            },
            health_check: config
                .health_check_service
                .clone()
                .map(|service| HealthCheck { service, authority: self.authority.clone() })
                .or_else(|| d.health_check.clone()),
        };
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(applied);
    }
}
