using System.Text;
using Google.Protobuf;
using Google.Rpc;
using Keys.KeyAdmin.Grpc;
using Keys.KeyAdmin.OpenApi;
using Keys.KeyAdmin.Rest;

namespace Keys.KeyAdmin.UnitTests;

public sealed class RestConventionsTests
{
    /// <summary>The REST layer's refusals read exactly as the RPCs' own: a google.rpc.Status with one ErrorInfo.</summary>
    [Fact]
    public void ARefusalIsAGoogleRpcStatusWithAnErrorInfo()
    {
        var json = Encoding.UTF8.GetString(RestRefusal.MethodNotAllowed(["GET", "POST"]).ToJson());

        var parser = new JsonParser(JsonParser.Settings.Default.WithTypeRegistry(Google.Protobuf.Reflection.TypeRegistry.FromMessages(ErrorInfo.Descriptor)));
        var status = parser.Parse<Google.Rpc.Status>(json);
        var info = status.Details.Single().Unpack<ErrorInfo>();

        Assert.Equal((int)Code.Unimplemented, status.Code);
        Assert.Equal("This path takes GET, POST only.", status.Message);
        Assert.Equal((ErrorCatalog.MethodNotAllowed, ApiErrors.Domain, "GET, POST"), (info.Reason, info.Domain, info.Metadata["allow"]));
        Assert.StartsWith("""{"code":12,"message":"This path takes GET, POST only.","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":""", json);
    }

    [Fact]
    public void EveryRefusalOfTheRestLayerHasItsStatusAndAReasonInTheCatalog()
    {
        var refusals = new[]
        {
            RestRefusal.MalformedJson("m"), RestRefusal.RouteNotFound(), RestRefusal.MethodNotAllowed(["GET"]),
            RestRefusal.RequestTooLarge(65536), RestRefusal.UnsupportedMediaType(),
        };

        Assert.All(refusals, r => Assert.Equal(ErrorCatalog.Reasons[r.Reason].Status, r.HttpStatus));
    }

    [Theory]
    [InlineData("""{"code":3,"message":"Request JSON payload is not correctly formatted.","details":[]}""", false)]
    [InlineData("""{"code":3,"message":"x"}""", false)]
    [InlineData("not json", false)]
    [InlineData("""{"code":3,"message":"x","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"INVALID_LIMIT","domain":"keys.v1"}]}""", true)]
    public void OnlyAnErrorWithAReasonIsLeftAsItIs(string body, bool hasReason) =>
        Assert.Equal(hasReason, ErrorDetailsGuard.HasReason(Encoding.UTF8.GetBytes(body)));
}
