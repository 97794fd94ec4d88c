import Chanjing
import Crypto
import Foundation

/// Seals access tokens for the coordination topic, so that the topic holds nothing usable by a
/// reader without the app's secret key: AES-GCM with a key derived by HKDF-SHA256 from the secret
/// key (input key material) and the app ID (salt). Fingerprints are HMACs under a second derived
/// key, so naming a token in a claim reveals nothing about it either.
public struct TokenSeal: Sendable {
    private let sealingKey: SymmetricKey
    private let fingerprintKey: SymmetricKey

    public init(appID: String, secretKey: String) {
        let material = SymmetricKey(data: Data(secretKey.utf8))
        let salt = Data(appID.utf8)
        sealingKey = HKDF<SHA256>.deriveKey(
            inputKeyMaterial: material, salt: salt, info: Data("chanjing-worker token record v1".utf8), outputByteCount: 32
        )
        fingerprintKey = HKDF<SHA256>.deriveKey(
            inputKeyMaterial: material, salt: salt, info: Data("chanjing-worker token fingerprint v1".utf8), outputByteCount: 32
        )
    }

    /// The keyed fingerprint of a token's value (16 bytes of HMAC-SHA256, in hex).
    public func fingerprint(of value: String) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: Data(value.utf8), using: fingerprintKey)
        return mac.prefix(16).map { String(format: "%02x", $0) }.joined()
    }

    /// Seals `token`. The readable facts (fingerprint, expiry, fetch time) are authenticated with
    /// it, so a record cannot be altered without the key.
    public func seal(_ token: AccessToken, fetchedAt: Date) throws -> SealedToken {
        var sealed = SealedToken(fingerprint: fingerprint(of: token.value), expiresAt: token.expiresAt, fetchedAt: fetchedAt, sealed: [])
        let box = try AES.GCM.seal(Data(token.value.utf8), using: sealingKey, authenticating: Self.authenticatedData(sealed))
        guard let combined = box.combined else { throw CryptoKitError.incorrectParameterSize }
        sealed.sealed = Array(combined)
        return sealed
    }

    /// The token's value, or nil when it was sealed with another key (another app or secret key)
    /// or altered.
    public func open(_ sealed: SealedToken) -> String? {
        guard let box = try? AES.GCM.SealedBox(combined: Data(sealed.sealed)),
            let plain = try? AES.GCM.open(box, using: sealingKey, authenticating: Self.authenticatedData(sealed)),
            let value = String(data: plain, encoding: .utf8),
            fingerprint(of: value) == sealed.fingerprint
        else { return nil }
        return value
    }

    private static func authenticatedData(_ token: SealedToken) -> Data {
        let fetchedAtMs = Int64((token.fetchedAt.timeIntervalSince1970 * 1000).rounded())
        return Data("\(token.fingerprint)|\(Int64(token.expiresAt.timeIntervalSince1970))|\(fetchedAtMs)".utf8)
    }
}
