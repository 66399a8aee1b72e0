//! The one shape every host-implemented package shares: a `HasData` marker
//! whose data is the package's `View`, and an `add_to_linker` that adds the
//! package's generated interfaces with it.

/// Declares, in a package module with a `View<'a>` type, its `HasData`
/// marker and `pub fn add_to_linker(linker, get)` adding each generated
/// interface module listed (`$doc` documents the function).
macro_rules! package_linker {
    ($doc:literal, $($interface:path),+ $(,)?) => {
        /// Lends a store's `View` to the generated host traits.
        struct HasView;

        impl wasmtime::component::HasData for HasView {
            type Data<'a> = View<'a>;
        }

        #[doc = $doc]
        pub fn add_to_linker<T: Send + 'static>(
            linker: &mut wasmtime::component::Linker<T>,
            get: fn(&mut T) -> View<'_>,
        ) -> wasmtime::Result<()> {
            $( { use $interface as interface; interface::add_to_linker::<_, HasView>(linker, get)?; } )+
            Ok(())
        }
    };
}

pub(crate) use package_linker;
