using Keys.FunctionalTests.Infrastructure;
using Npgsql;

namespace Keys.FunctionalTests;

/// <summary>
/// Migration 0004 renames a key's end from deleted_at/grace_until to revokes_at. It runs here on rows of every shape
/// the earlier schema could hold, in a schema of its own inside the test system's database.
/// </summary>
[Collection(KeysCollection.Name)]
public sealed class KeyEndMigrationTests(KeysAppFixture fixture)
{
    private static readonly DateTime DeletedAt = new(2026, 1, 2, 3, 4, 5, DateTimeKind.Utc);
    private static readonly DateTime GraceEndsLater = new(2099, 1, 1, 0, 0, 0, DateTimeKind.Utc);
    private static readonly DateTime GraceEnded = new(2026, 2, 3, 4, 5, 6, DateTimeKind.Utc);

    [Fact]
    public async Task MigrationFourMovesEveryKeysEndIntoRevokesAtAndKeepsDeletedAtForDeletedKeysOnly()
    {
        await using var connection = new NpgsqlConnection(await fixture.App.GetConnectionStringAsync("keysdb"));
        await connection.OpenAsync();
        var schema = "migration_" + Guid.NewGuid().ToString("N")[..12];
        await ExecuteAsync(connection, $"CREATE SCHEMA {schema}; SET search_path = {schema};");
        try
        {
            var scripts = Directory.GetFiles(Path.Combine(AppContext.BaseDirectory, "Migrations"), "*.sql").Order().ToList();
            foreach (var script in scripts.Where(s => string.CompareOrdinal(Path.GetFileName(s), "0004") < 0))
            {
                await ExecuteAsync(connection, await File.ReadAllTextAsync(script));
            }

            await ExecuteAsync(connection, """
                INSERT INTO project (id, name) VALUES ('proj_m', 'Migration');
                INSERT INTO environment (project_id, name) VALUES ('proj_m', 'dev');
                """);
            await InsertKeyAsync(connection, "key_live", "live", deletedAt: null, graceUntil: null);
            await InsertKeyAsync(connection, "key_deleted", "deleted", DeletedAt, graceUntil: null);
            await InsertKeyAsync(connection, "key_in_grace", "in-grace", GraceEndsLater, GraceEndsLater);
            await InsertKeyAsync(connection, "key_grace_ended", "grace-ended", GraceEnded, GraceEnded);

            await ExecuteAsync(connection, await File.ReadAllTextAsync(Assert.Single(scripts, s => Path.GetFileName(s).StartsWith("0004_", StringComparison.Ordinal))));

            var ends = await ReadEndsAsync(connection);
            Assert.Equal((null, null), ends["key_live"]);
            Assert.Equal((DeletedAt, DeletedAt), ends["key_deleted"]);
            Assert.Equal((null, GraceEndsLater), ends["key_in_grace"]);
            Assert.Equal((null, GraceEnded), ends["key_grace_ended"]);

            // A rolled key's name is free for its replacement; a live key's is not.
            await InsertKeyAsync(connection, "key_replacement", "in-grace", deletedAt: null, graceUntil: null, migrated: true);
            var taken = await Assert.ThrowsAsync<PostgresException>(
                () => InsertKeyAsync(connection, "key_twin", "live", deletedAt: null, graceUntil: null, migrated: true));
            Assert.Equal("api_key_live_name", taken.ConstraintName);
        }
        finally
        {
            await ExecuteAsync(connection, $"DROP SCHEMA {schema} CASCADE");
        }
    }

    private static async Task InsertKeyAsync(
        NpgsqlConnection connection, string id, string name, DateTime? deletedAt, DateTime? graceUntil, bool migrated = false)
    {
        var end = migrated ? "revokes_at" : "grace_until";
        await using var command = new NpgsqlCommand(
            $"""
            INSERT INTO api_key (id, project_id, environment, name, type, key_hash, masked_key, deleted_at, {end})
            VALUES (@id, 'proj_m', 'dev', @name, 'secret', @hash, 'sk_…', @deleted, @grace)
            """, connection);
        command.Parameters.AddWithValue("id", id);
        command.Parameters.AddWithValue("name", name);
        command.Parameters.AddWithValue("hash", System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.ASCII.GetBytes(id)));
        command.Parameters.AddWithValue("deleted", NpgsqlTypes.NpgsqlDbType.TimestampTz, (object?)deletedAt ?? DBNull.Value);
        command.Parameters.AddWithValue("grace", NpgsqlTypes.NpgsqlDbType.TimestampTz, (object?)graceUntil ?? DBNull.Value);
        await command.ExecuteNonQueryAsync();
    }

    private static async Task<Dictionary<string, (DateTime? DeletedAt, DateTime? RevokesAt)>> ReadEndsAsync(NpgsqlConnection connection)
    {
        await using var command = new NpgsqlCommand("SELECT id, deleted_at, revokes_at FROM api_key", connection);
        await using var reader = await command.ExecuteReaderAsync();
        var ends = new Dictionary<string, (DateTime?, DateTime?)>();
        while (await reader.ReadAsync())
        {
            ends[reader.GetString(0)] = (
                reader.IsDBNull(1) ? null : reader.GetDateTime(1),
                reader.IsDBNull(2) ? null : reader.GetDateTime(2));
        }

        return ends;
    }

    private static async Task ExecuteAsync(NpgsqlConnection connection, string sql)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }
}
