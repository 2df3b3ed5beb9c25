using Keys.ApiKeys;

namespace Keys.UnitTests;

public sealed class Base62Tests
{
    [Theory]
    [InlineData(0UL, 6, "000000")]
    [InlineData(61UL, 2, "0z")]
    [InlineData(62UL, 2, "10")]
    [InlineData(uint.MaxValue, 6, "4gfFC3")]
    public void EncodesBigEndianLeftPadded(ulong value, int width, string expected) =>
        Assert.Equal(expected, Base62.Encode(value, width));

    [Fact]
    public void AllOnes256BitsFitIn43Digits()
    {
        var encoded = Base62.Encode(Enumerable.Repeat((byte)0xFF, 32).ToArray(), 43);

        Assert.Equal(43, encoded.Length);
    }

    [Fact]
    public void ValueTooLargeForTheWidthIsRefused() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => Base62.Encode(62UL, 1));

    [Fact]
    public void DecodeReversesEncode()
    {
        Assert.True(Base62.TryDecode(Base62.Encode(123456789UL, 6), out var value));
        Assert.Equal(123456789UL, value);
        Assert.False(Base62.TryDecode("ab-c", out _));
    }
}
