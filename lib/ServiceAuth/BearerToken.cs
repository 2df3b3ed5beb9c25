using System.Security.Cryptography;
using System.Text;
using Grpc.Core;

namespace Keys.ServiceAuth;

/// <summary>
/// Bearer tokens as the interceptors compare them: as SHA-256 digests, so that the comparison
/// (<see cref="CryptographicOperations.FixedTimeEquals"/>) takes the same time whatever the length presented.
/// </summary>
public static class BearerToken
{
    private const string Scheme = "Bearer ";

    public static byte[] Digest(string token) => SHA256.HashData(Encoding.UTF8.GetBytes(token));

    /// <summary>
    /// Writes the digest of the call's <c>Authorization: Bearer …</c> token into <paramref name="digest"/>
    /// (<see cref="SHA256.HashSizeInBytes"/> bytes); false when the call carries no bearer token.
    /// </summary>
    public static bool TryDigest(Metadata requestHeaders, Span<byte> digest)
    {
        var header = requestHeaders.GetValue("authorization");
        if (header is null || !header.StartsWith(Scheme, StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        var token = header.AsSpan(Scheme.Length).Trim();
        var maxBytes = Encoding.UTF8.GetMaxByteCount(token.Length);
        var utf8 = maxBytes <= 1024 ? stackalloc byte[maxBytes] : new byte[maxBytes];
        SHA256.HashData(utf8[..Encoding.UTF8.GetBytes(token, utf8)], digest);
        return true;
    }
}
