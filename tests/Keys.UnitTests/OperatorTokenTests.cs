using Keys.ApiKeys;

namespace Keys.UnitTests;

public sealed class OperatorTokenTests
{
    [Fact]
    public void ATokenHasTheKeyFormatWithItsOwnPrefix()
    {
        var token = OperatorToken.Generate();

        Assert.StartsWith("op_", token);
        Assert.Equal(KeyString.Length, token.Length);
        Assert.True(OperatorToken.IsWellFormed(token));
        Assert.NotEqual(token, OperatorToken.Generate());
    }

    // An operator token sent to the gateway as X-API-Key must be refused offline, and an API key sent to KeyAdmin as
    // a bearer must not be looked up as an operator's.
    [Fact]
    public void ATokenIsNotAnApiKeyAndAnApiKeyIsNotAToken()
    {
        Assert.False(KeyString.IsWellFormed(OperatorToken.Generate()));
        Assert.False(OperatorToken.IsWellFormed(KeyString.Generate(ApiKeyType.Secret)));
        Assert.False(OperatorToken.IsWellFormed(KeyString.Generate(ApiKeyType.Publishable)));
    }

    [Fact]
    public void AnyOneChangedCharacterFailsTheChecksum()
    {
        var token = OperatorToken.Generate();
        for (var i = OperatorToken.Prefix.Length; i < token.Length; i++)
        {
            var chars = token.ToCharArray();
            chars[i] = chars[i] == 'a' ? 'b' : 'a';
            Assert.False(OperatorToken.IsWellFormed(new string(chars)), $"a change at {i} passed");
        }
    }

    [Theory]
    [InlineData("")]
    [InlineData("op_")]
    [InlineData("op_short")]
    public void ShortOrEmptyStringsAreNotTokens(string value) => Assert.False(OperatorToken.IsWellFormed(value));

    [Fact]
    public void TheMaskKeepsThePrefixAndTheEnds()
    {
        var token = OperatorToken.Generate();
        Assert.Equal($"{token[..7]}…{token[^4..]}", OperatorToken.Mask(token));
    }
}
