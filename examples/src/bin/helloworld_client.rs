//! `helloworld_client [URL] [NAME]`: calls SayHello on a Greeter.

use weir_examples::helloworld::HelloRequest;
use weir_examples::helloworld::greeter_client::GreeterClient;
use weir_tokio::Endpoint;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::args().nth(1).unwrap_or_else(|| "http://127.0.0.1:50051".into());
    let name = std::env::args().nth(2).unwrap_or_else(|| "world".into());
    let client = GreeterClient::new(Endpoint::new(url)?.connect().await?);
    let reply = client.say_hello(HelloRequest { name }).await?;
    println!("{}", reply.into_inner().message);
    Ok(())
}
