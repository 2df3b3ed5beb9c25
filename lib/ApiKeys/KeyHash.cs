using System.Buffers.Binary;

namespace Keys.ApiKeys;

/// <summary>SHA-256 of a key as a value type: a dictionary key that costs no allocation to build or compare.</summary>
public readonly record struct KeyHash(ulong A, ulong B, ulong C, ulong D)
{
    public static KeyHash Of(string key)
    {
        Span<byte> hash = stackalloc byte[KeyString.HashLength];
        KeyString.Hash(key, hash);
        return From(hash);
    }

    public static KeyHash From(ReadOnlySpan<byte> hash)
    {
        if (hash.Length != KeyString.HashLength)
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
        var bytes = new byte[KeyString.HashLength];
        BinaryPrimitives.WriteUInt64BigEndian(bytes, A);
        BinaryPrimitives.WriteUInt64BigEndian(bytes.AsSpan(8), B);
        BinaryPrimitives.WriteUInt64BigEndian(bytes.AsSpan(16), C);
        BinaryPrimitives.WriteUInt64BigEndian(bytes.AsSpan(24), D);
        return bytes;
    }

    // The hash identifies a key: it never goes into logs or traces, so ToString says nothing.
    public override string ToString() => nameof(KeyHash);
}
