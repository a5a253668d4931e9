//! gan-web: gan-runtime for JavaScript, through `wasm-bindgen`. The page in `web/page` loads a
//! generator from the bytes of an ONNX file and asks it for RGBA pictures by seed, by latent or
//! along an interpolation; seed 42 here is the same picture as `gan generate --seed 42`
//! natively, because the latent is [`gan_runtime::latent`]'s portable function.
//!
//! Only tract runs here (the browser has no ONNX Runtime), on one thread (a page has no thread
//! pool without cross-origin isolation). Every error reaches JavaScript as an `Error` whose
//! message names the file and the problem; nothing panics across the boundary.
//!
//! Built by `web/build.sh` (`cargo build --target wasm32-unknown-unknown` + `wasm-bindgen
//! --target web`); on the host the crate also compiles, so its logic is tested natively.

use gan_runtime::latent::slerp_point;
use gan_runtime::{Generator, LoadOptions, RuntimeError};
use wasm_bindgen::prelude::*;

/// A generator loaded in the page. A conditional one draws the class chosen with `setClass`
/// (its first class until then) in every picture.
#[wasm_bindgen]
pub struct WebGenerator {
    inner: Generator,
    class: Option<usize>,
}

#[wasm_bindgen]
impl WebGenerator {
    /// Load the ONNX file `bytes`, called `name` in error messages.
    #[wasm_bindgen(constructor)]
    pub fn new(name: &str, bytes: &[u8]) -> Result<WebGenerator, JsError> {
        Self::load(name, bytes).map_err(to_js)
    }

    /// Values per latent vector.
    #[wasm_bindgen(getter, js_name = latentDim)]
    pub fn latent_dim(&self) -> usize {
        self.inner.latent_dim()
    }

    /// Image width in pixels.
    #[wasm_bindgen(getter)]
    pub fn width(&self) -> usize {
        self.inner.image_size().0
    }

    /// Image height in pixels.
    #[wasm_bindgen(getter)]
    pub fn height(&self) -> usize {
        self.inner.image_size().1
    }

    /// Channels of the model's output (1, 3 or 4; pictures are always RGBA).
    #[wasm_bindgen(getter)]
    pub fn channels(&self) -> usize {
        self.inner.channels()
    }

    /// A conditional generator's class names (empty for an unconditional one).
    #[wasm_bindgen(getter)]
    pub fn classes(&self) -> Vec<String> {
        self.inner.classes().to_vec()
    }

    /// Draw class `class` (a name, or a number as text) from now on.
    #[wasm_bindgen(js_name = setClass)]
    pub fn set_class(&mut self, class: &str) -> Result<(), JsError> {
        self.choose_class(class).map_err(to_js)
    }

    /// The latent vector for `seed` (a `BigInt` in JavaScript).
    #[wasm_bindgen(js_name = latentForSeed)]
    pub fn latent_for_seed(&self, seed: u64) -> Vec<f32> {
        self.inner.latent_for_seed(seed)
    }

    /// The picture for `seed`: `width × height × 4` RGBA bytes, ready for `ImageData`.
    pub fn generate(&self, seed: u64) -> Result<Vec<u8>, JsError> {
        self.pictures(&[seed]).map_err(to_js)
    }

    /// One picture per seed, concatenated.
    #[wasm_bindgen(js_name = generateMany)]
    pub fn generate_many(&self, seeds: &[u64]) -> Result<Vec<u8>, JsError> {
        self.pictures(seeds).map_err(to_js)
    }

    /// The picture for a latent vector of [`Self::latent_dim`] values.
    #[wasm_bindgen(js_name = generateLatent)]
    pub fn generate_latent(&self, z: &[f32]) -> Result<Vec<u8>, JsError> {
        self.rgba_of(z).map_err(to_js)
    }

    /// The picture at `t` ∈ [0, 1] on the spherical path from seed `a`'s latent to seed `b`'s.
    #[wasm_bindgen(js_name = interpolateAt)]
    pub fn interpolate_at(&self, a: u64, b: u64, t: f64) -> Result<Vec<u8>, JsError> {
        self.between(a, b, t).map_err(to_js)
    }

    /// `steps` pictures from seed `a` to seed `b`, both ends included, concatenated.
    pub fn interpolate(&self, a: u64, b: u64, steps: usize) -> Result<Vec<u8>, JsError> {
        self.path(a, b, steps).map_err(to_js)
    }
}

impl WebGenerator {
    /// The native side of [`Self::new`].
    pub fn load(name: &str, bytes: &[u8]) -> Result<Self, RuntimeError> {
        let options = LoadOptions {
            threads: Some(1),
            max_batch: Some(16),
            ..LoadOptions::default()
        };
        let inner = Generator::load_bytes(name, bytes, &options)?;
        let class = (!inner.classes().is_empty()).then_some(0);
        Ok(WebGenerator { inner, class })
    }

    /// The native side of [`Self::set_class`].
    pub fn choose_class(&mut self, class: &str) -> Result<(), RuntimeError> {
        self.class = Some(self.inner.class_index(class)?);
        Ok(())
    }

    /// The native side of [`Self::generate_many`].
    pub fn pictures(&self, seeds: &[u64]) -> Result<Vec<u8>, RuntimeError> {
        self.rgba_of(&self.inner.latents_for_seeds(seeds))
    }

    /// The native side of [`Self::interpolate`].
    pub fn path(&self, a: u64, b: u64, steps: usize) -> Result<Vec<u8>, RuntimeError> {
        self.rgba_of(&self.inner.interpolation(a, b, steps)?)
    }

    /// RGBA bytes for the latents `z`, of the chosen class for a conditional generator.
    fn rgba_of(&self, z: &[f32]) -> Result<Vec<u8>, RuntimeError> {
        match self.class {
            Some(class) => {
                let n = z.len() / self.inner.latent_dim();
                concat(self.inner.generate_latents_labelled(z, &vec![class; n]))
            }
            None => concat(self.inner.generate_latents(z)),
        }
    }

    /// The native side of [`Self::interpolate_at`].
    pub fn between(&self, a: u64, b: u64, t: f64) -> Result<Vec<u8>, RuntimeError> {
        if !(0.0..=1.0).contains(&t) {
            return Err(RuntimeError::InvalidArgument(format!(
                "interpolation position {t} is outside [0, 1]"
            )));
        }
        let z = slerp_point(
            &self.inner.latent_for_seed(a),
            &self.inner.latent_for_seed(b),
            t,
        );
        self.rgba_of(&z)
    }
}

fn concat(
    pictures: Result<Vec<gan_runtime::Rgba8>, RuntimeError>,
) -> Result<Vec<u8>, RuntimeError> {
    Ok(pictures?.into_iter().flat_map(|p| p.pixels).collect())
}

fn to_js(error: RuntimeError) -> JsError {
    JsError::new(&error.to_string())
}
