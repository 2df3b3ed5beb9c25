using Keys.AppHost.Infrastructure;

namespace Keys.FunctionalTests;

/// <summary>The AppHost's choice of Postgres and Redis, checked on the app model it builds (nothing is started).</summary>
public sealed class InfrastructureChoiceTests : IDisposable
{
    private readonly DirectoryInfo _dataDirectory = Directory.CreateTempSubdirectory("keys-model-");

    [Fact]
    public async Task BothConnectionStringsSelectExternalServers()
    {
        await using var builder = await CreateModelAsync(
            "ConnectionStrings:keysdb=Host=db.internal;Username=keys;Password=p;Database=keysdb",
            "ConnectionStrings:redis=cache.internal:6379");

        Assert.DoesNotContain(builder.Resources, r => r.Name is "postgres" or "postgres-init");
        AssertExternal(Resource(builder, "keysdb"));
        AssertExternal(Resource(builder, "redis"));

        static void AssertExternal(IResource resource)
        {
            Assert.IsAssignableFrom<IResourceWithConnectionString>(resource);
            Assert.IsNotAssignableFrom<ExecutableResource>(resource);
            Assert.IsNotAssignableFrom<ContainerResource>(resource);
        }
    }

    [Fact]
    public async Task ContainersModeUsesTheStandardPostgresAndRedisContainers()
    {
        await using var builder = await CreateModelAsync("Keys:Infrastructure=containers");

        Assert.IsType<PostgresServerResource>(Resource(builder, "postgres"));
        var database = Assert.IsType<PostgresDatabaseResource>(Resource(builder, "keysdb"));
        Assert.Equal("keysdb", database.DatabaseName);
        Assert.IsType<RedisResource>(Resource(builder, "redis"));
    }

    [Fact]
    public async Task LocalModeRunsTheDebianServersAsExecutablesInTheDataDirectory()
    {
        await using var builder = await CreateModelAsync("Keys:Infrastructure=local");

        var postgres = Assert.IsAssignableFrom<ExecutableResource>(Resource(builder, "postgres"));
        Assert.Equal(Environment.IsPrivilegedProcess ? "setpriv" : "postgres", Path.GetFileName(postgres.Command));
        Assert.IsAssignableFrom<ExecutableResource>(Resource(builder, "postgres-init"));
        var redis = Assert.IsType<LocalRedisResource>(Resource(builder, "redis"));
        Assert.EndsWith("redis-server", redis.Command, StringComparison.Ordinal);

        var database = Assert.IsType<ConnectionStringResource>(Resource(builder, "keysdb"));
        Assert.True(database.TryGetAnnotationsOfType<ResourceRelationshipAnnotation>(out var relationships));
        Assert.Contains(relationships, r => r.Type == "Parent" && r.Resource == postgres);
        Assert.True(File.Exists(Path.Combine(_dataDirectory.FullName, "redis.conf")));
    }

    [Fact]
    public async Task LocalModeWithoutTheBinariesFailsNamingWhatToInstall()
    {
        var error = await Assert.ThrowsAnyAsync<Exception>(() => CreateModelAsync(
            "Keys:Infrastructure=local",
            $"{LocalBinaries.PostgresBinConfigKey}=/nonexistent/postgresql/bin"));

        Assert.Contains("apt-get install -y postgresql redis-server", Flatten(error));
    }

    [Fact]
    public async Task ARedisConnectionStringAloneIsUsedWhilePostgresStaysLocal()
    {
        await using var builder = await CreateModelAsync(
            "Keys:Infrastructure=local",
            "ConnectionStrings:redis=s1.internal:26379,s2.internal:26379,s3.internal:26379,serviceName=keys,password=p");

        Assert.IsAssignableFrom<ExecutableResource>(Resource(builder, "postgres"));
        var redis = Resource(builder, "redis");
        Assert.IsAssignableFrom<IResourceWithConnectionString>(redis);
        Assert.IsNotAssignableFrom<ExecutableResource>(redis);
        Assert.False(File.Exists(Path.Combine(_dataDirectory.FullName, "redis.conf")), "A local Redis was prepared that nothing uses.");
    }

    [Fact]
    public async Task ARedisConnectionStringTheServicesCouldNotUseStopsTheAppHostSayingWhyButNotThePassword()
    {
        var error = await Assert.ThrowsAnyAsync<Exception>(() => CreateModelAsync(
            "Keys:Infrastructure=local",
            "ConnectionStrings:redis=serviceName=keys,password=never-shown-secret"));

        Assert.Contains("ConnectionStrings:redis names no server", Flatten(error));
        Assert.DoesNotContain("never-shown-secret", Flatten(error));
    }

    [Fact]
    public async Task UnknownInfrastructureModeIsRejected()
    {
        var error = await Assert.ThrowsAnyAsync<Exception>(() => CreateModelAsync("Keys:Infrastructure=kubernetes"));

        Assert.Contains("'local', 'containers' or 'external'", Flatten(error));
    }

    public void Dispose() => _dataDirectory.Delete(recursive: true);

    private async Task<IDistributedApplicationTestingBuilder> CreateModelAsync(params string[] args) =>
        await DistributedApplicationTestingBuilder.CreateAsync<Projects.Keys_AppHost>(
            [.. args, $"Keys:DataDirectory={_dataDirectory.FullName}", "Parameters:admin-token=model-only-admin-token-of-32-characters"]);

    private static IResource Resource(IDistributedApplicationTestingBuilder builder, string name) =>
        Assert.Single(builder.Resources, r => r.Name == name);

    private static string Flatten(Exception error) =>
        string.Join(" | ", EnumerateMessages(error));

    private static IEnumerable<string> EnumerateMessages(Exception? error)
    {
        for (; error is not null; error = error.InnerException)
        {
            yield return error.Message;
        }
    }
}
