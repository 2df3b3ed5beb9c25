using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Grpc.Core;
using Grpc.Net.Client;
using Keys.FunctionalTests.Infrastructure;
using Keys.V1;

namespace Keys.FunctionalTests;

/// <summary>
/// KeyAdmin's REST conventions, against the running service: every 4xx carries an ErrorInfo reason (malformed JSON,
/// unknown fields, wrong methods, unknown paths, media types), bodies are capped before they are read, IDs are echoed
/// only when well formed, and gRPC, the console, health and the OpenAPI document are served as before.
/// </summary>
[Collection(KeysCollection.Name)]
public sealed class RestApiTests(KeysAppFixture fixture)
{
    private const int BodyLimit = 64 * 1024;
    private const long TwelveMegabytes = 12 * 1024 * 1024;

    private readonly KeyAdminClient _admin = fixture.CreateKeyAdminClient();

    [Fact]
    public async Task MalformedJsonIs400MalformedJsonWithAnErrorInfoAndCreatesNothing()
    {
        var project = await _admin.CreateProjectAsync();

        var error = await KeyAdminClient.AssertErrorAsync(
            await _admin.Http.PostAsync($"/v1/projects/{project.Id}/environments/dev/keys", Json("{\"name\": ")),
            HttpStatusCode.BadRequest, "MALFORMED_JSON");

        Assert.Equal(3, error.Code);
        Assert.Equal("keys.v1", Assert.Single(error.Details).Domain);
        Assert.Equal("The body is not valid JSON (line 1, byte 10).", error.Message);
        Assert.Empty((await _admin.ListKeysAsync(project.Id, "dev")).Keys);
    }

    [Fact]
    public async Task AnUnknownFieldIs400MalformedJsonThatNamesItAndCreatesNothing()
    {
        var project = await _admin.CreateProjectAsync();

        // "scope" for "scopes": ignored, the key would have been created with every scope its type allows.
        using var response = await _admin.PostKeyAsync(project.Id, "dev", new { name = "typo", type = "secret", scope = new[] { "posts:read" } });

        var error = await KeyAdminClient.AssertErrorAsync(response, HttpStatusCode.BadRequest, "MALFORMED_JSON");
        Assert.StartsWith("The body has no field 'scope'; its fields are ", error.Message);
        Assert.Contains("scopes", error.Message);
        Assert.Equal("scope", await ErrorMetadataAsync(response, "field"));
        Assert.Empty((await _admin.ListKeysAsync(project.Id, "dev")).Keys);
    }

    [Fact]
    public async Task AValueOfTheWrongTypeIs400MalformedJsonNamingTheField()
    {
        var project = await _admin.CreateProjectAsync();

        var error = await KeyAdminClient.AssertErrorAsync(
            await _admin.PostKeyAsync(project.Id, "dev", new { name = 12, type = "secret" }), HttpStatusCode.BadRequest, "MALFORMED_JSON");

        Assert.Equal("name must be a string.", error.Message);
    }

    /// <summary>
    /// JSON transcoding's own answer to a time it cannot read is "Invalid Timestamp value: &lt;the value&gt;", with no
    /// reason, and it logs the same words: a key pasted into the wrong field reached the log and came back.
    /// </summary>
    [Fact]
    public async Task AKeyPastedIntoAFieldOfTheWrongFormIsRefusedAndNeitherEchoedNorLogged()
    {
        var project = await _admin.CreateProjectAsync();
        var key = await _admin.CreateKeyAsync(project.Id, "dev", "pasted-into-fields", "secret");

        var errors = new[]
        {
            await KeyAdminClient.AssertErrorAsync(
                await _admin.Http.PostAsJsonAsync(
                    $"/v1/projects/{project.Id}/environments/dev/keys/{key.Key.Id}:roll", new { gracePeriodSeconds = 0, expiresAt = key.Value }),
                HttpStatusCode.BadRequest, "MALFORMED_JSON"),
            await KeyAdminClient.AssertErrorAsync(
                await _admin.Http.GetAsync($"/v1/projects/{project.Id}/audit?limit={key.Value}"), HttpStatusCode.BadRequest, "INVALID_LIMIT"),
        };

        Assert.All(errors, e => Assert.DoesNotContain(key.Value[3..], e.Message, StringComparison.Ordinal));
        Assert.DoesNotContain(key.Value[3..], await fixture.ReadAllLogsAsync(), StringComparison.Ordinal);
        Assert.Single((await _admin.ListKeysAsync(project.Id, "dev")).Keys);
    }

    public static TheoryData<string, string, string> WrongMethods => new()
    {
        // A collection (404 before this issue), an item, a nested collection, an item with a custom verb beside it,
        // custom verbs of their own, and a second binding of one RPC.
        { "DELETE", "/v1/projects", "GET, POST" },
        { "PUT", "/v1/projects/{project}", "GET, PATCH" },
        { "GET", "/v1/projects/{project}/environments", "POST" },
        { "PUT", "/v1/projects/{project}/environments/dev/keys/key_0123456789abcdefABCDEF", "DELETE, PATCH" },
        { "GET", "/v1/keys:find", "POST" },
        { "GET", "/v1/caches:flush", "POST" },
        { "POST", "/v1/audit", "GET" },
        { "DELETE", "/v1/operators/current", "GET" },
    };

    [Theory]
    [MemberData(nameof(WrongMethods))]
    public async Task AWrongMethodIs405MethodNotAllowedWithTheMethodsThePathTakes(string method, string path, string allowed)
    {
        var project = await _admin.CreateProjectAsync();

        using var response = await _admin.Http.SendAsync(new HttpRequestMessage(new HttpMethod(method), path.Replace("{project}", project.Id, StringComparison.Ordinal)));

        var error = await KeyAdminClient.AssertErrorAsync(response, HttpStatusCode.MethodNotAllowed, "METHOD_NOT_ALLOWED");
        Assert.Equal(allowed, string.Join(", ", response.Content.Headers.Allow));
        Assert.Equal($"This path takes {allowed} only.", error.Message);
    }

    [Theory]
    [InlineData("GET", "/v1/nothing")]
    [InlineData("GET", "/v1")]
    [InlineData("POST", "/v1/projects/a/b/c/d/e/f/g")]
    [InlineData("DELETE", "/v1/keys")]
    public async Task AnUnknownPathUnderV1Is404RouteNotFound(string method, string path)
    {
        using var response = await _admin.Http.SendAsync(new HttpRequestMessage(new HttpMethod(method), path));

        var error = await KeyAdminClient.AssertErrorAsync(response, HttpStatusCode.NotFound, "ROUTE_NOT_FOUND");
        Assert.Equal(5, error.Code);
    }

    [Theory]
    [InlineData("text/plain", "utf-8")]
    [InlineData("application/x-www-form-urlencoded", null)]
    [InlineData("application/json", "utf-16")]
    public async Task ABodyThatIsNotUtf8JsonIs415UnsupportedMediaType(string mediaType, string? charset)
    {
        var encoding = charset == "utf-16" ? Encoding.Unicode : Encoding.UTF8;
        var content = new ByteArrayContent(encoding.GetBytes("""{"name":"Media"}"""));
        content.Headers.ContentType = new(mediaType) { CharSet = charset };

        await KeyAdminClient.AssertErrorAsync(await _admin.Http.PostAsync("/v1/projects", content), HttpStatusCode.UnsupportedMediaType, "UNSUPPORTED_MEDIA_TYPE");
    }

    /// <summary>
    /// The client is still sending when the answer comes, and KeyAdmin then closes the connection, so the client
    /// cannot send the rest: it never read the body. Were it to read the 12 MB first (or drain them after answering,
    /// to keep the connection), the client would have sent all of it.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A12MegabyteBodyIsRefused413WithoutBeingRead(bool chunked)
    {
        var keyAdmin = (await fixture.GetReplicaAddressesAsync("key-admin", "http", replicas: 1))[0];

        var answer = await SendTwelveMegabytesAsync(keyAdmin, chunked);

        Assert.Equal(413, answer.Status);
        var error = JsonSerializer.Deserialize<ApiErrorDto>(answer.Body, JsonSerializerOptions.Web)!;
        Assert.Equal("REQUEST_TOO_LARGE", error.Reason);
        Assert.True(answer.SentWhenAnswered < TwelveMegabytes, $"answered after all {answer.SentWhenAnswered} bytes were sent");
        Assert.True(answer.SentInAll < TwelveMegabytes, $"KeyAdmin took all {answer.SentInAll} bytes: it read or drained the body");
        Assert.True(answer.Elapsed < TimeSpan.FromSeconds(10), $"took {answer.Elapsed}");
        // A chunked body is read up to the limit and one byte more; one with a Content-Length, not at all.
        if (!chunked)
        {
            Assert.True(answer.SentWhenAnswered < TwelveMegabytes / 2, $"answered after {answer.SentWhenAnswered} bytes");
        }
    }

    [Fact]
    public async Task ABodyJustUnderTheLimitIsReadAndJudgedByTheRpc()
    {
        var project = await _admin.CreateProjectAsync();
        var name = new string('n', BodyLimit - 100);

        await KeyAdminClient.AssertErrorAsync(
            await _admin.PostKeyAsync(project.Id, "dev", new { name, type = "secret" }), HttpStatusCode.BadRequest, "INVALID_KEY_NAME");
        await KeyAdminClient.AssertErrorAsync(
            await _admin.PostKeyAsync(project.Id, "dev", new { name = name + new string('n', 200), type = "secret" }),
            HttpStatusCode.RequestEntityTooLarge, "REQUEST_TOO_LARGE");
    }

    [Fact]
    public async Task AMalformedKeyIdIsNotEchoedWhileAWellFormedOneIs()
    {
        var project = await _admin.CreateProjectAsync();
        var wellFormed = "key_0123456789abcdefABCDEF";
        var script = "<script>alert(1)</script>";
        // As long as a request line may be (8 KB, Kestrel's limit), less the rest of the line.
        var long7K = new string('k', 7 * 1024);

        var echoed = await KeyAdminClient.AssertErrorAsync(
            await _admin.DeleteKeyAsync(project.Id, "dev", wellFormed, "x"), HttpStatusCode.NotFound, "KEY_NOT_FOUND");
        var notEchoed = new[]
        {
            await KeyAdminClient.AssertErrorAsync(
                await _admin.DeleteKeyAsync(project.Id, "dev", Uri.EscapeDataString(script), "x"), HttpStatusCode.NotFound, "KEY_NOT_FOUND"),
            await KeyAdminClient.AssertErrorAsync(
                await _admin.DeleteKeyAsync(project.Id, "dev", long7K, "x"), HttpStatusCode.NotFound, "KEY_NOT_FOUND"),
            await KeyAdminClient.AssertErrorAsync(
                await _admin.PostRollAsync(project.Id, "dev", Uri.EscapeDataString(script), 0), HttpStatusCode.NotFound, "KEY_NOT_FOUND"),
        };

        Assert.Equal($"Key '{wellFormed}' does not exist in environment 'dev'.", echoed.Message);
        Assert.All(notEchoed, e => Assert.DoesNotContain("script", e.Message, StringComparison.Ordinal));
        Assert.All(notEchoed, e => Assert.DoesNotContain("kkkkkkkk", e.Message, StringComparison.Ordinal));
        Assert.All(notEchoed, e => Assert.Equal("No key has this ID: key IDs look like key_ and 22 letters and digits (not the key itself).", e.Message));
    }

    [Fact]
    public async Task A10KilobyteKeyIdOverGrpcIsNotEchoed()
    {
        using var channel = GrpcChannel.ForAddress(fixture.App.GetEndpoint("key-admin", "grpc"));
        var client = new KeyAdminService.KeyAdminServiceClient(channel);
        var project = await _admin.CreateProjectAsync();
        var long10K = new string('k', 10 * 1024);

        var error = await Assert.ThrowsAsync<RpcException>(async () => await client.DeleteKeyAsync(
            new DeleteKeyRequest { ProjectId = project.Id, Environment = "dev", KeyId = long10K, ConfirmName = "x" }, fixture.AdminCallHeaders()));

        Assert.Equal(StatusCode.NotFound, error.StatusCode);
        Assert.DoesNotContain("kkkkkkkk", error.Status.Detail, StringComparison.Ordinal);
    }

    /// <summary>
    /// gRPC is served by the same app, and its paths are not REST operations: a message is judged by the RPC, and one
    /// over the REST body limit is refused by gRPC itself (RESOURCE_EXHAUSTED, the same cap), not by the REST layer.
    /// REST sent over HTTP/2 to the gRPC port follows the REST rules.
    /// </summary>
    [Fact]
    public async Task GrpcBesideTheRestApiIsNotHeldToItsRulesButToTheSameSizeLimit()
    {
        var grpcAddress = fixture.App.GetEndpoint("key-admin", "grpc");
        using var channel = GrpcChannel.ForAddress(grpcAddress);
        var client = new KeyAdminService.KeyAdminServiceClient(channel);
        var project = await client.CreateProjectAsync(new CreateProjectRequest { Name = "gRPC beside REST" }, fixture.AdminCallHeaders());

        var created = await client.CreateKeyAsync(
            new CreateKeyRequest { ProjectId = project.Id, Environment = "dev", Name = "grpc-key", Type = "secret" }, fixture.AdminCallHeaders());
        var tooLong = await Assert.ThrowsAsync<RpcException>(async () => await client.CreateKeyAsync(
            new CreateKeyRequest { ProjectId = project.Id, Environment = "dev", Name = new string('n', BodyLimit / 2), Type = "secret" },
            fixture.AdminCallHeaders()));
        var tooLarge = await Assert.ThrowsAsync<RpcException>(async () => await client.CreateKeyAsync(
            new CreateKeyRequest { ProjectId = project.Id, Environment = "dev", Name = new string('n', 2 * BodyLimit), Type = "secret" },
            fixture.AdminCallHeaders()));

        Assert.StartsWith("sk_", created.Value);
        Assert.Equal(StatusCode.InvalidArgument, tooLong.StatusCode);
        Assert.Equal("INVALID_KEY_NAME", tooLong.GetRpcStatus()?.GetDetail<Google.Rpc.ErrorInfo>()?.Reason);
        Assert.Equal(StatusCode.ResourceExhausted, tooLarge.StatusCode);

        using var http2 = new HttpClient
        {
            BaseAddress = grpcAddress,
            DefaultRequestVersion = HttpVersion.Version20,
            DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };
        using var wrongMethod = await http2.DeleteAsync("/v1/projects");
        await KeyAdminClient.AssertErrorAsync(wrongMethod, HttpStatusCode.MethodNotAllowed, "METHOD_NOT_ALLOWED");
    }

    [Fact]
    public async Task TheConsoleHealthAndTheOpenApiDocumentAreServedAsBefore()
    {
        using var anonymous = fixture.App.CreateHttpClient("key-admin", "http");

        using var console = await anonymous.GetAsync("/");
        using var health = await anonymous.GetAsync("/health");
        using var document = await anonymous.GetAsync("/openapi/v1.json");

        Assert.Equal(HttpStatusCode.OK, console.StatusCode);
        Assert.Equal("text/html", console.Content.Headers.ContentType?.MediaType);
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        Assert.Equal(HttpStatusCode.OK, document.StatusCode);
        Assert.Equal("application/json", document.Content.Headers.ContentType?.MediaType);
        Assert.NotEmpty((await _admin.ListProjectsAsync()).Projects);
    }

    private static StringContent Json(string text) => new(text, Encoding.UTF8, "application/json");

    /// <summary>A value of the error's ErrorInfo metadata (ApiErrorDto reads the reason and domain only).</summary>
    private static async Task<string?> ErrorMetadataAsync(HttpResponseMessage response, string key)
    {
        using var error = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return error.RootElement.GetProperty("details")[0].GetProperty("metadata").TryGetProperty(key, out var value) ? value.GetString() : null;
    }

    private sealed record OversizedAnswer(int Status, string Body, long SentWhenAnswered, long SentInAll, TimeSpan Elapsed);

    /// <summary>
    /// POSTs a 12 MB project body over a raw connection (16 KB at a time, chunked or with its Content-Length), reading
    /// the answer meanwhile, and counts what it managed to send: by the answer, and before KeyAdmin closed the connection.
    /// </summary>
    private async Task<OversizedAnswer> SendTwelveMegabytesAsync(Uri server, bool chunked)
    {
        using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync(server.Host, server.Port);
        await using var stream = new NetworkStream(socket, ownsSocket: false);
        var head = $"POST /v1/projects HTTP/1.1\r\nHost: {server.Authority}\r\nAuthorization: Bearer {fixture.AdminToken}\r\n"
            + "Content-Type: application/json\r\n"
            + (chunked ? "Transfer-Encoding: chunked\r\n" : $"Content-Length: {TwelveMegabytes}\r\n")
            + "\r\n";
        var piece = Encoding.ASCII.GetBytes("{\"name\":\"" + new string('a', 16 * 1024 - 9));
        byte[] frame = chunked ? [.. Encoding.ASCII.GetBytes($"{piece.Length:x}\r\n"), .. piece, .. "\r\n"u8.ToArray()] : piece;

        var stopwatch = Stopwatch.StartNew();
        long sent = 0;
        long sentWhenAnswered = -1;
        await stream.WriteAsync(Encoding.ASCII.GetBytes(head));
        var reading = Task.Run(async () =>
        {
            var response = await ReadResponseAsync(stream);
            Interlocked.Exchange(ref sentWhenAnswered, Interlocked.Read(ref sent));
            return response;
        });

        try
        {
            while (Interlocked.Read(ref sent) < TwelveMegabytes)
            {
                // A server that neither reads nor closes would block this write: that fails the test by the timeout.
                await stream.WriteAsync(frame).AsTask().WaitAsync(TimeSpan.FromSeconds(30));
                Interlocked.Add(ref sent, piece.Length);
            }
        }
        catch (IOException)
        {
            // KeyAdmin closed the connection: the rest of the body could not be sent.
        }

        var (status, body) = await reading.WaitAsync(TimeSpan.FromSeconds(30));
        return new OversizedAnswer(status, body, Interlocked.Read(ref sentWhenAnswered), Interlocked.Read(ref sent), stopwatch.Elapsed);
    }

    /// <summary>One HTTP/1.1 response with a Content-Length: its status and body.</summary>
    private static async Task<(int Status, string Body)> ReadResponseAsync(NetworkStream stream)
    {
        var received = new MemoryStream();
        var buffer = new byte[16 * 1024];
        while (true)
        {
            var read = await stream.ReadAsync(buffer);
            if (read == 0)
            {
                throw new IOException($"the connection closed before a whole response: {Encoding.ASCII.GetString(received.ToArray())}");
            }

            received.Write(buffer, 0, read);
            var text = Encoding.UTF8.GetString(received.ToArray());
            var headerEnd = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
            if (headerEnd < 0)
            {
                continue;
            }

            var headers = text[..headerEnd].Split("\r\n");
            var length = headers.Select(h => h.Split(':', 2)).Where(h => h.Length == 2 && h[0].Trim().Equals("Content-Length", StringComparison.OrdinalIgnoreCase))
                .Select(h => int.Parse(h[1].Trim(), System.Globalization.CultureInfo.InvariantCulture)).Single();
            var body = text[(headerEnd + 4)..];
            if (Encoding.UTF8.GetByteCount(body) >= length)
            {
                return (int.Parse(headers[0].Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture), body);
            }
        }
    }
}
