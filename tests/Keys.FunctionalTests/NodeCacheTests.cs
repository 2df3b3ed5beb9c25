using System.Diagnostics;
using System.Net;
using System.Text.Json;
using System.Threading.Channels;
using Keys.FunctionalTests.Infrastructure;

namespace Keys.FunctionalTests;

/// <summary>
/// The Node.js sample of docs/internal-clients.md (samples/node-cache/cache.mjs, the file itself) against the running
/// system: a service that is not .NET, caching KeyValidation's answers by the documented protocol, refuses a deleted
/// key within a second, as the gateway does.
/// </summary>
[Collection(KeysCollection.Name)]
public sealed class NodeCacheTests(KeysAppFixture fixture)
{
    [Fact]
    public async Task ANodeServiceCachingByTheDocumentedProtocolRefusesADeletedKeyWithinOneSecond()
    {
        var admin = fixture.CreateKeyAdminClient();
        var project = await admin.CreateProjectAsync();
        var key = await admin.CreateKeyAsync(project.Id, "dev", "node-cache", "secret");

        await using var probe = await CacheProbe.StartAsync(fixture, key.Value);

        // Valid and answered from the sample's memory: it is in step with the Watch stream, and only an invalidation
        // can stop the key now (a cached entry lives 30 s).
        await probe.ReadUntilAsync(line => line.Outcome == "VALID" && line.Cached == true, TimeSpan.FromSeconds(30));

        Assert.Equal(HttpStatusCode.OK, (await admin.DeleteKeyAsync(project.Id, "dev", key.Key.Id, "node-cache")).StatusCode);
        var deleted = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();

        var after = await probe.ReadUntilAsync(line => line.At > deleted + 2000, TimeSpan.FromSeconds(10));
        var seen = string.Join('\n', after.Select(line => $"{line.At - deleted:+0;-0} ms {line.Outcome} cached={line.Cached}"));

        var firstRevoked = after.FirstOrDefault(line => line.At > deleted && line.Outcome == "TOKEN_REVOKED");
        Assert.True(firstRevoked is not null && firstRevoked.At <= deleted + 1000, $"TOKEN_REVOKED not within 1 s of the delete:\n{seen}");
        Assert.True(after.Where(line => line.At > deleted + 1000).All(line => line.Outcome == "TOKEN_REVOKED"), $"not refused after 1 s:\n{seen}");
    }

    private sealed record ProbeLine(long At, string Outcome, bool? Cached);

    /// <summary>tests/Keys.FunctionalTests/NodeClient/cache-probe.mjs, checking one key every 50 ms with the sample.</summary>
    private sealed class CacheProbe : IAsyncDisposable
    {
        private readonly Process _process;
        private readonly Channel<ProbeLine> _lines = Channel.CreateUnbounded<ProbeLine>();
        private readonly Task<string> _error;
        private readonly Task _reading;

        private CacheProbe(Process process)
        {
            _process = process;
            _error = process.StandardError.ReadToEndAsync();
            _reading = Task.Run(async () =>
            {
                try
                {
                    while (await process.StandardOutput.ReadLineAsync() is { } line)
                    {
                        _lines.Writer.TryWrite(JsonSerializer.Deserialize<ProbeLine>(line, JsonSerializerOptions.Web)!);
                    }

                    _lines.Writer.TryComplete();
                }
                catch (Exception e)
                {
                    _lines.Writer.TryComplete(e);
                }
            });
        }

        public static async Task<CacheProbe> StartAsync(KeysAppFixture fixture, string key)
        {
            var directory = await NodeClientTests.Installed.Value;
            // The sample itself, next to node_modules: Node resolves @grpc/grpc-js from the importing file's folder up.
            Directory.CreateDirectory(Path.Combine(directory, ".sample"));
            File.Copy(Path.Combine(Repository.Root, "samples", "node-cache", "cache.mjs"), Path.Combine(directory, ".sample", "cache.mjs"), overwrite: true);

            var endpoint = fixture.App.GetEndpoint("key-validation", "grpc");
            var start = new ProcessStartInfo("node")
            {
                WorkingDirectory = directory,
                RedirectStandardInput = true,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                ArgumentList = { "cache-probe.mjs", $"{endpoint.Host}:{endpoint.Port}", Path.Combine(Repository.Root, "protos"), key },
                Environment = { ["KEYS_SERVICE_TOKEN"] = fixture.TestCallerToken },
            };
            return new CacheProbe(Process.Start(start)!);
        }

        /// <summary>The lines read until one matches (that one included); fails if none does within <paramref name="within"/>.</summary>
        public async Task<List<ProbeLine>> ReadUntilAsync(Func<ProbeLine, bool> match, TimeSpan within)
        {
            var lines = new List<ProbeLine>();
            using var timeout = new CancellationTokenSource(within);
            try
            {
                while (await _lines.Reader.WaitToReadAsync(timeout.Token))
                {
                    while (_lines.Reader.TryRead(out var line))
                    {
                        lines.Add(line);
                        if (match(line))
                        {
                            return lines;
                        }
                    }
                }
            }
            catch (OperationCanceledException) when (timeout.IsCancellationRequested)
            {
            }

            var last = string.Join('\n', lines.TakeLast(10).Select(line => $"{line.At} {line.Outcome} cached={line.Cached}"));
            var error = _process.HasExited ? await _error : "";
            Assert.Fail($"The probe never reported what was awaited within {within}. Last lines:\n{last}\n{error}");
            return lines;
        }

        public async ValueTask DisposeAsync()
        {
            try
            {
                _process.StandardInput.Close();
            }
            catch (IOException)
            {
            }

            if (!_process.WaitForExit(TimeSpan.FromSeconds(2)))
            {
                _process.Kill();
                await _process.WaitForExitAsync();
            }

            await _reading;
            _process.Dispose();
        }
    }
}
