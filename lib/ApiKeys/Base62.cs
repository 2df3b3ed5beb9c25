using System.Numerics;

namespace Keys.ApiKeys;

/// <summary>Base62 with the alphabet <c>0-9A-Za-z</c>, fixed width, big-endian.</summary>
public static class Base62
{
    public const string Alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

    /// <summary>Writes the big-endian unsigned integer in <paramref name="bytes"/>, left-padded with '0' to <paramref name="width"/>.</summary>
    public static string Encode(ReadOnlySpan<byte> bytes, int width)
    {
        var value = new BigInteger(bytes, isUnsigned: true, isBigEndian: true);
        return Encode(value, width);
    }

    public static string Encode(ulong value, int width) => Encode(new BigInteger(value), width);

    private static string Encode(BigInteger value, int width)
    {
        Span<char> chars = stackalloc char[width];
        for (var i = width - 1; i >= 0; i--)
        {
            value = BigInteger.DivRem(value, 62, out var remainder);
            chars[i] = Alphabet[(int)remainder];
        }

        if (!value.IsZero)
        {
            throw new ArgumentOutOfRangeException(nameof(width), width, "The value does not fit in that many base62 digits.");
        }

        return new string(chars);
    }

    /// <summary>The value of one base62 digit, or -1 for any other character.</summary>
    public static int DigitValue(char c) => c switch
    {
        >= '0' and <= '9' => c - '0',
        >= 'A' and <= 'Z' => c - 'A' + 10,
        >= 'a' and <= 'z' => c - 'a' + 36,
        _ => -1,
    };

    /// <summary>Reads up to 10 base62 digits; false on any other character.</summary>
    public static bool TryDecode(ReadOnlySpan<char> digits, out ulong value)
    {
        value = 0;
        foreach (var c in digits)
        {
            var digit = DigitValue(c);
            if (digit < 0)
            {
                return false;
            }

            value = (value * 62) + (ulong)digit;
        }

        return true;
    }
}
