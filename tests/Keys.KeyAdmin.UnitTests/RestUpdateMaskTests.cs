using System.Text;
using Keys.KeyAdmin.Grpc;

namespace Keys.KeyAdmin.UnitTests;

public sealed class RestUpdateMaskTests
{
    [Theory]
    [InlineData("""{"name":"x"}""", new[] { "name" })]
    [InlineData("""{"expiresAt":null}""", new[] { "expiresAt" })]
    [InlineData("""{ "rateLimit": {"limit": 1, "windowSeconds": 2}, "scopes": ["a:read"], "metadata": {"a": {"b": [1]}}, "enabled": false }""",
        new[] { "rateLimit", "scopes", "metadata", "enabled" })]
    [InlineData("""{"name":"x","name":"y"}""", new[] { "name" })]
    [InlineData("""{}""", new string[0])]
    public void TheMaskIsTheBodysTopLevelPropertiesEachOnce(string body, string[] names) =>
        Assert.Equal(names, RestUpdateMask.TopLevelNames(Encoding.UTF8.GetBytes(body)));

    [Theory]
    [InlineData("")]
    [InlineData("[]")]
    [InlineData("null")]
    [InlineData("\"name\"")]
    [InlineData("""{"name":""")]
    [InlineData("""{"name" 1}""")]
    public void ABodyThatIsNotAJsonObjectGivesNoMask(string body) =>
        Assert.Null(RestUpdateMask.TopLevelNames(Encoding.UTF8.GetBytes(body)));
}
