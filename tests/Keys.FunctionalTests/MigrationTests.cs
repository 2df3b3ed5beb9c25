using Keys.FunctionalTests.Infrastructure;
using Npgsql;

namespace Keys.FunctionalTests;

// A restart of KeyAdmin: KeyValidation stops vouching for caches while it is away.
public sealed class MigrationTests(FaultsAppFixture fixture) : FaultTests
{
    protected override FaultsAppFixture Faults => fixture;

    [Fact]
    public async Task MigrationsBuiltTheEmptyDatabaseAndRunAgainOnTheExistingOneChangingNothing()
    {
        // The fixture starts from an empty data directory, so KeyAdmin's start-up migrated an empty database.
        var before = await AppliedMigrationsAsync();
        Assert.Equal(ScriptVersions(), before.Select(m => m.Version));

        var admin = fixture.CreateKeyAdminClient();
        var project = await admin.CreateProjectAsync("Survives restarts");
        var key = await admin.CreateKeyAsync(project.Id, "dev", "kept", "publishable");

        await fixture.RestartResourceAsync("key-admin");

        Assert.Equal(before, await AppliedMigrationsAsync());
        var keys = (await fixture.CreateKeyAdminClient().ListKeysAsync(project.Id, "dev")).Keys;
        Assert.Equal(key.Key.Id, Assert.Single(keys).Id);
    }

    // Every script in KeyAdmin's Data/Migrations (NNNN_name.sql), by the version its name starts with.
    private static IEnumerable<int> ScriptVersions() =>
        Directory.GetFiles(Path.Combine(Keys.Testing.Repository.Root, "services", "KeyAdmin", "Data", "Migrations"), "*.sql")
            .Select(path => int.Parse(Path.GetFileName(path).AsSpan(0, 4), System.Globalization.CultureInfo.InvariantCulture))
            .Order();

    private async Task<List<(int Version, DateTime AppliedAt)>> AppliedMigrationsAsync()
    {
        await using var connection = new NpgsqlConnection(await fixture.App.GetConnectionStringAsync("keysdb"));
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT version, applied_at FROM schema_migration ORDER BY version", connection);
        await using var reader = await command.ExecuteReaderAsync();
        var applied = new List<(int, DateTime)>();
        while (await reader.ReadAsync())
        {
            applied.Add((reader.GetInt32(0), reader.GetDateTime(1)));
        }

        return applied;
    }
}
