using System.Buffers.Binary;
using System.Security.Cryptography;

namespace Keys.ApiKeys;

/// <summary>
/// SHA-256 of the whole key string: the only form of a secret key that is ever stored, and what every cache looks a
/// key up by. A value type, so that it is a dictionary key that costs no allocation to build or compare.
/// </summary>
public readonly record struct KeyHash(ulong A, ulong B, ulong C, ulong D)
{
    public const int Length = SHA256.HashSizeInBytes;

    /// <summary>The hash of a key string of the Keys format (<see cref="KeyString"/>).</summary>
    public static KeyHash Of(ReadOnlySpan<char> key)
    {
        Span<byte> ascii = stackalloc byte[KeyString.Length];
        var written = System.Text.Encoding.ASCII.GetBytes(key, ascii);
        Span<byte> hash = stackalloc byte[Length];
        SHA256.HashData(ascii[..written], hash);
        return From(hash);
    }

    public static KeyHash From(ReadOnlySpan<byte> hash)
    {
        if (hash.Length != Length)
        {
            throw new ArgumentException("A key hash is 32 bytes.", nameof(hash));
        }

        return new KeyHash(
            BinaryPrimitives.ReadUInt64BigEndian(hash),
            BinaryPrimitives.ReadUInt64BigEndian(hash[8..]),
            BinaryPrimitives.ReadUInt64BigEndian(hash[16..]),
            BinaryPrimitives.ReadUInt64BigEndian(hash[24..]));
    }

    public byte[] ToArray()
    {
        var bytes = new byte[Length];
        BinaryPrimitives.WriteUInt64BigEndian(bytes, A);
        BinaryPrimitives.WriteUInt64BigEndian(bytes.AsSpan(8), B);
        BinaryPrimitives.WriteUInt64BigEndian(bytes.AsSpan(16), C);
        BinaryPrimitives.WriteUInt64BigEndian(bytes.AsSpan(24), D);
        return bytes;
    }

    // The hash identifies a key: it never goes into logs or traces, so ToString says nothing.
    public override string ToString() => nameof(KeyHash);
}
