//! The RouteGuide service: features on a small grid, route summaries, and
//! notes shared by location.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use futures::stream::{self, BoxStream, StreamExt};
use weir_rt::{Request, Response, Status, Streaming};

use crate::routeguide::route_guide_server::RouteGuide;
use crate::routeguide::{Feature, Point, Rectangle, RouteNote, RouteSummary};

/// The features of the guide: a 10 x 10 grid, one named feature every third point.
pub fn features() -> Vec<Feature> {
    (0..10)
        .flat_map(|lat| (0..10).map(move |lon| (lat, lon)))
        .filter(|(lat, lon)| (lat * 10 + lon) % 3 == 0)
        .map(|(lat, lon)| Feature {
            name: format!("Landmark {lat}-{lon}"),
            location: Some(Point { latitude: lat * 10_000_000, longitude: lon * 10_000_000 }),
        })
        .collect()
}

/// Notes left so far, by (latitude, longitude).
type NotesByPlace = Arc<Mutex<HashMap<(i32, i32), Vec<RouteNote>>>>;

/// The route guide.
#[derive(Debug)]
pub struct RouteGuideService {
    features: Arc<Vec<Feature>>,
    notes: NotesByPlace,
}

impl Default for RouteGuideService {
    fn default() -> Self {
        RouteGuideService { features: Arc::new(features()), notes: Default::default() }
    }
}

fn in_range(p: &Point, r: &Rectangle) -> bool {
    let (lo, hi) = (r.lo.unwrap_or_default(), r.hi.unwrap_or_default());
    let (lat_lo, lat_hi) = (lo.latitude.min(hi.latitude), lo.latitude.max(hi.latitude));
    let (lon_lo, lon_hi) = (lo.longitude.min(hi.longitude), lo.longitude.max(hi.longitude));
    (lat_lo..=lat_hi).contains(&p.latitude) && (lon_lo..=lon_hi).contains(&p.longitude)
}

/// Great-circle distance in metres (haversine), as the gRPC example computes it.
pub fn distance(a: &Point, b: &Point) -> i32 {
    const COORD: f64 = 1e7;
    const R: f64 = 6_371_000.0;
    let (lat1, lat2) = ((a.latitude as f64 / COORD).to_radians(), (b.latitude as f64 / COORD).to_radians());
    let (dlat, dlon) = (lat2 - lat1, ((b.longitude - a.longitude) as f64 / COORD).to_radians());
    let h = (dlat / 2.0).sin().powi(2) + lat1.cos() * lat2.cos() * (dlon / 2.0).sin().powi(2);
    (R * 2.0 * h.sqrt().atan2((1.0 - h).sqrt())) as i32
}

impl RouteGuide for RouteGuideService {
    async fn get_feature(&self, request: Request<Point>) -> Result<Response<Feature>, Status> {
        let p = request.into_inner();
        let found = self.features.iter().find(|f| f.location.as_ref() == Some(&p)).cloned();
        Ok(Response::new(found.unwrap_or(Feature { name: String::new(), location: Some(p) })))
    }

    type ListFeaturesStream = BoxStream<'static, Result<Feature, Status>>;

    async fn list_features(
        &self,
        request: Request<Rectangle>,
    ) -> Result<Response<Self::ListFeaturesStream>, Status> {
        let rect = request.into_inner();
        let inside: Vec<_> = self
            .features
            .iter()
            .filter(|f| f.location.as_ref().is_some_and(|p| in_range(p, &rect)))
            .cloned()
            .map(Ok)
            .collect();
        Ok(Response::new(stream::iter(inside).boxed()))
    }

    async fn record_route(
        &self,
        request: Request<Streaming<Point>>,
    ) -> Result<Response<RouteSummary>, Status> {
        let start = Instant::now();
        let mut points = request.into_inner();
        let mut summary = RouteSummary::default();
        let mut last: Option<Point> = None;
        while let Some(p) = points.message().await? {
            summary.point_count += 1;
            if self.features.iter().any(|f| f.location.as_ref() == Some(&p)) {
                summary.feature_count += 1;
            }
            if let Some(prev) = &last {
                summary.distance += distance(prev, &p);
            }
            last = Some(p);
        }
        summary.elapsed_time = start.elapsed().as_secs() as i32;
        Ok(Response::new(summary))
    }

    type RouteChatStream = BoxStream<'static, Result<RouteNote, Status>>;

    async fn route_chat(
        &self,
        request: Request<Streaming<RouteNote>>,
    ) -> Result<Response<Self::RouteChatStream>, Status> {
        let notes = self.notes.clone();
        // For every note: the earlier notes at its location, then record it.
        let replies = request.into_inner().flat_map(move |note| {
            let out: Vec<Result<RouteNote, Status>> = match note {
                Err(e) => vec![Err(e)],
                Ok(note) => {
                    let loc = note.location.unwrap_or_default();
                    let mut map = notes.lock().unwrap_or_else(|e| e.into_inner());
                    let here = map.entry((loc.latitude, loc.longitude)).or_default();
                    let earlier = here.iter().cloned().map(Ok).collect();
                    here.push(note);
                    earlier
                }
            };
            stream::iter(out)
        });
        Ok(Response::new(replies.boxed()))
    }
}
