using System.IO.Hashing;
using System.Numerics;
using System.Security.Cryptography;
using System.Text;
using Keys.ApiKeys;

namespace Keys.UnitTests;

public sealed class KeyStringTests
{
    [Theory]
    [InlineData(ApiKeyType.Publishable, "pk_")]
    [InlineData(ApiKeyType.Secret, "sk_")]
    public void GeneratedKeyParsesBackToItsType(ApiKeyType type, string prefix)
    {
        var key = KeyString.Generate(type);

        Assert.StartsWith(prefix, key);
        Assert.Equal(52, key.Length);
        Assert.All(key, c => Assert.True(char.IsAsciiLetterOrDigit(c) || c == '_'));
        Assert.True(KeyString.TryParse(key, out var parsed));
        Assert.Equal(type, parsed);
    }

    [Fact]
    public void BodyIsThe256RandomBitsInBase62AndTheChecksumIsTheirCrc32()
    {
        var key = KeyString.Generate(ApiKeyType.Secret);
        var body = key[3..46];

        var value = BigInteger.Zero;
        foreach (var c in body)
        {
            value = (value * 62) + Base62.Alphabet.IndexOf(c);
        }

        Assert.True(value < BigInteger.Pow(2, 256));
        var crc = Crc32.HashToUInt32(Encoding.ASCII.GetBytes(key[..46]));
        Assert.Equal(Base62.Encode(crc, 6), key[46..]);
    }

    [Fact]
    public void GeneratedKeysDiffer()
    {
        var keys = Enumerable.Range(0, 1000).Select(_ => KeyString.Generate(ApiKeyType.Secret)).ToHashSet();

        Assert.Equal(1000, keys.Count);
    }

    [Fact]
    public void AnyOneChangedCharacterFailsTheChecksum()
    {
        var key = KeyString.Generate(ApiKeyType.Publishable);
        for (var i = 3; i < key.Length; i++)
        {
            var replacement = key[i] == 'a' ? 'b' : 'a';
            var typo = string.Concat(key.AsSpan(0, i), replacement.ToString(), key.AsSpan(i + 1));
            Assert.False(KeyString.TryParse(typo, out _), $"a typo at position {i} was accepted");
        }
    }

    [Theory]
    [InlineData("")]
    [InlineData("sk_")]
    [InlineData("not a key at all")]
    public void ShortOrForeignStringsAreRejected(string candidate) => Assert.False(KeyString.TryParse(candidate, out _));

    [Fact]
    public void WrongLengthIsRejected()
    {
        var key = KeyString.Generate(ApiKeyType.Secret);
        // A leading zero leaves the checksum's value unchanged: only the length check can reject this one.
        var padded = string.Concat(key.AsSpan(0, KeyString.PrefixLength + KeyString.BodyLength), "0", key.AsSpan(KeyString.PrefixLength + KeyString.BodyLength));

        Assert.False(KeyString.TryParse(padded, out _));
        Assert.False(KeyString.TryParse(key.AsSpan(0, key.Length - 1), out _));
    }

    [Theory]
    [InlineData("rk_")]
    [InlineData("SK_")]
    [InlineData("pk-")]
    public void OtherPrefixesAreRejectedEvenWithAValidChecksum(string prefix)
    {
        var body = KeyString.Generate(ApiKeyType.Secret).Substring(3, 43);
        var forged = prefix + body + Base62.Encode(KeyString.Checksum(string.Concat(prefix, body)), 6);

        Assert.False(KeyString.TryParse(forged, out _));
    }

    [Fact]
    public void CharactersOutsideBase62AreRejected()
    {
        // The checksum is computed over the changed body, so only the alphabet check can reject it.
        var body = KeyString.Generate(ApiKeyType.Secret).Substring(3, 43);
        var prefixAndBody = "sk_" + body[..7] + "-" + body[8..];
        var withDash = prefixAndBody + Base62.Encode(KeyString.Checksum(prefixAndBody), 6);

        Assert.False(KeyString.TryParse(withDash, out _));
    }

    [Fact]
    public void MaskKeepsPrefixFirstFourAndLastFour()
    {
        var key = KeyString.Generate(ApiKeyType.Secret);

        var masked = KeyString.Mask(key);

        Assert.Equal($"sk_{key[3..7]}…{key[^4..]}", masked);
        Assert.DoesNotContain(key[7..^4], masked);
    }

    [Fact]
    public void HashIsSha256OfTheWholeKeyString()
    {
        var key = KeyString.Generate(ApiKeyType.Secret);

        Assert.Equal(SHA256.HashData(Encoding.ASCII.GetBytes(key)), KeyHash.Of(key).ToArray());
    }
}
