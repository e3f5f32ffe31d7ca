//! The services both stacks serve in the benchmarks, from the same protos:
//! `helloworld.Greeter/SayHello` (reply "Hello " + name) and
//! `bench.Bench/Download` (a stream of chunks).

/// Code generated for Weir.
pub mod weir_gen {
    /// helloworld.
    pub mod helloworld {
        #![allow(missing_docs)]
        include!(concat!(env!("OUT_DIR"), "/weir/helloworld.rs"));
    }
    /// bench.
    pub mod bench {
        #![allow(missing_docs)]
        include!(concat!(env!("OUT_DIR"), "/weir/bench.rs"));
    }
}

/// Code generated for tonic.
pub mod tonic_gen {
    /// helloworld.
    pub mod helloworld {
        #![allow(missing_docs, clippy::all)]
        include!(concat!(env!("OUT_DIR"), "/tonic/helloworld.rs"));
    }
    /// bench.
    pub mod bench {
        #![allow(missing_docs, clippy::all)]
        include!(concat!(env!("OUT_DIR"), "/tonic/bench.rs"));
    }
}

pub mod alloc_count;
pub mod args;
pub mod harness;
pub mod services;
