using System.Buffers;
using System.Text;
using Google.Api;
using Google.Protobuf;
using Google.Rpc;
using Keys.ApiKeys;
using Keys.KeyAdmin.Grpc;
using Keys.KeyAdmin.OpenApi;
using Keys.KeyAdmin.Rest;
using Keys.V1;
using Microsoft.AspNetCore.Grpc.JsonTranscoding;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

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

    [Fact]
    public async Task ABodyIsClearedBeforeItsPooledArrayIsReturnedSoAKeyPastedIntoFindKeyIsNotHandedOn()
    {
        var method = KeyAdminService.Descriptor.FindMethodByName("FindKey");
        var endpoint = new Microsoft.AspNetCore.Http.Endpoint(
            _ => Task.CompletedTask,
            new EndpointMetadataCollection(new GrpcJsonTranscodingMetadata(method, method.GetOptions().GetExtension(AnnotationsExtensions.Http))),
            "FindKey");
        var key = KeyString.Generate(ApiKeyType.Secret);
        var body = Encoding.UTF8.GetBytes($$"""{"key":"{{key}}"}""");
        var context = new DefaultHttpContext();
        context.SetEndpoint(endpoint);
        context.Request.Method = "POST";
        context.Request.Path = "/v1/keys:find";
        context.Request.ContentType = "application/json";
        context.Request.ContentLength = body.Length;
        context.Request.Body = new MemoryStream(body);
        var pool = new RecordingPool();
        string? read = null;
        var middleware = new RestConventionsMiddleware(
            async c => read = await new StreamReader(c.Request.Body).ReadToEndAsync(),
            new RestRoutes(new DefaultEndpointDataSource()),
            pool,
            Options.Create(new KeyAdminOptions { AdminToken = new string('a', 32) }),
            NullLogger<RestConventionsMiddleware>.Instance);

        await middleware.InvokeAsync(context);

        Assert.Contains(key, read, StringComparison.Ordinal);
        var returned = Assert.Single(pool.Returned);
        Assert.All(returned, b => Assert.Equal(0, b));
    }

    /// <summary>A pool that hands out new arrays and keeps those returned to it, cleared when asked, as the shared pool does.</summary>
    private sealed class RecordingPool : ArrayPool<byte>
    {
        public List<byte[]> Returned { get; } = [];

        public override byte[] Rent(int minimumLength) => new byte[minimumLength];

        public override void Return(byte[] array, bool clearArray = false)
        {
            if (clearArray)
            {
                Array.Clear(array);
            }

            Returned.Add(array);
        }
    }
}
