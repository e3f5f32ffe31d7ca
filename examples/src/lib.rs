//! Weir's examples: generated code for the example protos and the service
//! implementations the binaries serve.

/// `helloworld.Greeter`.
pub mod helloworld {
    #![allow(missing_docs)]
    weir_rt::include_proto!("helloworld");
}

/// `routeguide.RouteGuide`.
pub mod routeguide {
    #![allow(missing_docs)]
    weir_rt::include_proto!("routeguide");
}

/// `chat.Chat`.
pub mod chat {
    #![allow(missing_docs)]
    weir_rt::include_proto!("chat");
}

/// The kitchen-sink proto of the code generation test.
pub mod kitchen {
    /// `kitchen.sink`.
    pub mod sink {
        #![allow(missing_docs)]
        weir_rt::include_proto!("kitchen.sink");
    }
    /// `kitchen.common`.
    pub mod common {
        #![allow(missing_docs)]
        weir_rt::include_proto!("kitchen.common");
    }
}

/// The encoded descriptors of every example proto (for reflection).
pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/descriptors.bin"));

pub mod chat_room;
pub mod greeter;
pub mod route_guide;
pub mod tiny_http;
