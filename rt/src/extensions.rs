//! Typed values attached to a request: what an interceptor learned (the
//! authenticated user, a tenant, a trace handle) handed to the handler by
//! type, without encoding it into metadata strings.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::fmt;

type Map = HashMap<TypeId, Box<dyn Any + Send + Sync>>;

/// A map from type to one value of that type. Empty, it allocates nothing.
#[derive(Default)]
pub struct Extensions {
    map: Option<Map>,
}

impl Extensions {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// Stores `value`, returning the one of the same type it replaces.
    pub fn insert<T: Send + Sync + 'static>(&mut self, value: T) -> Option<T> {
        let old = self.map.get_or_insert_with(Map::default).insert(TypeId::of::<T>(), Box::new(value));
        old.and_then(|b| b.downcast().ok().map(|b: Box<T>| *b))
    }

    /// The value of type `T`, if any.
    pub fn get<T: Send + Sync + 'static>(&self) -> Option<&T> {
        self.map.as_ref()?.get(&TypeId::of::<T>())?.downcast_ref()
    }

    /// The value of type `T`, mutably.
    pub fn get_mut<T: Send + Sync + 'static>(&mut self) -> Option<&mut T> {
        self.map.as_mut()?.get_mut(&TypeId::of::<T>())?.downcast_mut()
    }

    /// Takes the value of type `T` out.
    pub fn remove<T: Send + Sync + 'static>(&mut self) -> Option<T> {
        let b = self.map.as_mut()?.remove(&TypeId::of::<T>())?;
        b.downcast().ok().map(|b: Box<T>| *b)
    }

    /// True when no value is stored.
    pub fn is_empty(&self) -> bool {
        self.map.as_ref().is_none_or(|m| m.is_empty())
    }
}

impl fmt::Debug for Extensions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Extensions").field("len", &self.map.as_ref().map_or(0, |m| m.len())).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq)]
    struct User(&'static str);

    #[test]
    fn one_value_per_type() {
        let mut e = Extensions::new();
        assert!(e.is_empty() && e.get::<User>().is_none());
        assert_eq!(e.insert(User("ann")), None);
        assert_eq!(e.insert(7u32), None);
        assert_eq!(e.insert(User("bob")), Some(User("ann")), "the old value comes back");
        assert_eq!(e.get::<User>(), Some(&User("bob")));
        *e.get_mut::<u32>().unwrap() += 1;
        assert_eq!(e.remove::<u32>(), Some(8));
        assert_eq!(e.get::<u32>(), None);
        assert!(!e.is_empty());
    }
}
