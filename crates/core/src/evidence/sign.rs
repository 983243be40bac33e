//! Ed25519 signatures of records, with keys as PKCS#8 / SPKI PEM files (the form
//! `openssl genpkey -algorithm ed25519` writes).

use std::path::Path;

use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey};
use ed25519_dalek::{Signer, Verifier};

use super::canonical::{hex, unhex};
use super::record::Signature;
use crate::error::{CanaryError, Result};

/// A private key that signs records.
pub struct SigningKey(ed25519_dalek::SigningKey);

/// A public key that records must be signed with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyingKey(ed25519_dalek::VerifyingKey);

fn read(path: &Path) -> Result<String> {
    crate::atomic::read_text(path)
}

impl SigningKey {
    /// Read a PKCS#8 PEM private key (`-----BEGIN PRIVATE KEY-----`).
    pub fn read(path: &Path) -> Result<SigningKey> {
        ed25519_dalek::SigningKey::from_pkcs8_pem(&read(path)?)
            .map(SigningKey)
            .map_err(|e| {
                CanaryError::query_hint(
                    format!("`{}` is not an Ed25519 private key in PKCS#8 PEM: {e}", path.display()),
                    "create one with `canary evidence keygen KEY` or `openssl genpkey -algorithm ed25519`",
                )
            })
    }

    pub fn verifying_key(&self) -> VerifyingKey {
        VerifyingKey(self.0.verifying_key())
    }

    /// Sign a record hash (hex of 32 bytes).
    pub fn sign(&self, hash: &str) -> Result<Signature> {
        let digest = unhex(hash).ok_or_else(|| CanaryError::internal("a record hash is not hex"))?;
        Ok(Signature {
            algorithm: "ed25519".into(),
            public_key: hex(self.0.verifying_key().as_bytes()),
            value: hex(&self.0.sign(&digest).to_bytes()),
        })
    }

    /// The private key as PKCS#8 PEM.
    pub fn to_pem(&self) -> Result<String> {
        self.0
            .to_pkcs8_pem(LineEnding::LF)
            .map(|s| s.to_string())
            .map_err(|e| CanaryError::internal(e.to_string()))
    }
}

impl VerifyingKey {
    /// Read an SPKI PEM public key (`-----BEGIN PUBLIC KEY-----`), or a private key file
    /// (its public half).
    pub fn read(path: &Path) -> Result<VerifyingKey> {
        let text = read(path)?;
        if let Ok(k) = ed25519_dalek::VerifyingKey::from_public_key_pem(&text) {
            return Ok(VerifyingKey(k));
        }
        ed25519_dalek::SigningKey::from_pkcs8_pem(&text)
            .map(|k| VerifyingKey(k.verifying_key()))
            .map_err(|e| {
                CanaryError::query(format!(
                    "`{}` is not an Ed25519 public key (SPKI PEM) or private key (PKCS#8 PEM): {e}",
                    path.display()
                ))
            })
    }

    pub fn hex(&self) -> String {
        hex(self.0.as_bytes())
    }

    pub fn to_pem(&self) -> Result<String> {
        self.0
            .to_public_key_pem(LineEnding::LF)
            .map_err(|e| CanaryError::internal(e.to_string()))
    }
}

/// Check `signature` over the record hash `hash`. `Err` says what is wrong.
pub(crate) fn check(signature: &Signature, hash: &str) -> std::result::Result<(), String> {
    if signature.algorithm != "ed25519" {
        return Err(format!("unknown signature algorithm `{}`", signature.algorithm));
    }
    let key: [u8; 32] = unhex(&signature.public_key)
        .and_then(|b| b.try_into().ok())
        .ok_or("the public key is not 32 bytes of hex")?;
    let key = ed25519_dalek::VerifyingKey::from_bytes(&key).map_err(|e| format!("bad public key: {e}"))?;
    let sig: [u8; 64] = unhex(&signature.value)
        .and_then(|b| b.try_into().ok())
        .ok_or("the signature is not 64 bytes of hex")?;
    let digest = unhex(hash).ok_or("the record hash is not hex")?;
    key.verify(&digest, &ed25519_dalek::Signature::from_bytes(&sig))
        .map_err(|_| "the signature does not match the record".to_owned())
}

/// A new random key pair.
pub fn generate_key() -> Result<SigningKey> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| CanaryError::internal(format!("no randomness for a key: {e}")))?;
    Ok(SigningKey(ed25519_dalek::SigningKey::from_bytes(&seed)))
}

/// The public half of a key pair written by [`write_key_pair`].
#[derive(Debug, Clone)]
pub struct PublicKeyFile {
    /// `KEY.pub` beside the private key.
    pub path: std::path::PathBuf,
    /// The public key as hex.
    pub hex: String,
}

/// Create a key pair: `key` (private, PKCS#8 PEM, mode 0600 on Unix) and `key` with `.pub`
/// appended to its extension (public, SPKI PEM); the operation behind `canary evidence
/// keygen`. Neither file may exist.
///
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// let key = dir.path().join("signing.pem");
/// let public = canary_core::evidence::write_key_pair(&key).unwrap();
/// assert_eq!(public.path, dir.path().join("signing.pem.pub"));
/// assert_eq!(public.hex.len(), 64);
/// assert!(canary_core::evidence::write_key_pair(&key).is_err(), "never overwritten");
/// ```
///
/// # Errors
/// A query error when a file exists; an I/O error when one cannot be written.
pub fn write_key_pair(key: &Path) -> Result<PublicKeyFile> {
    use std::io::Write;
    let k = generate_key()?;
    let public = key.with_extension(match key.extension() {
        Some(e) => format!("{}.pub", e.to_string_lossy()),
        None => "pub".into(),
    });
    for path in [key, &public] {
        if path.exists() {
            return Err(CanaryError::query(format!(
                "`{}` exists; not overwritten",
                path.display()
            )));
        }
    }
    let io = |path: &Path, source: std::io::Error| CanaryError::Io {
        path: path.display().to_string(),
        source,
    };
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut f = options.open(key).map_err(|e| io(key, e))?;
    f.write_all(k.to_pem()?.as_bytes()).map_err(|e| io(key, e))?;
    let verifying = k.verifying_key();
    std::fs::write(&public, verifying.to_pem()?).map_err(|e| io(&public, e))?;
    Ok(PublicKeyFile {
        path: public,
        hex: verifying.hex(),
    })
}
