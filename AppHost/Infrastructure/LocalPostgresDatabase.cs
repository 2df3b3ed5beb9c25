using System.Security.Cryptography;
using System.Text;
using Npgsql;

namespace Keys.AppHost.Infrastructure;

/// <summary>
/// The local server's <c>keysdb</c> and the role KeyAdmin logs in as: the owner of the database and of everything in
/// it, and nothing more (no superuser, no other database, no roles). The superuser stays with the AppHost.
/// </summary>
public static class LocalPostgresDatabase
{
    public const string OwnerRole = "keys_admin";

    /// <summary>
    /// Creates the role and the database when missing, and on every start makes the role the owner of the database,
    /// of its schema <c>public</c> and of every table, view and sequence there: a data directory whose database the
    /// superuser made and migrated (before KeyAdmin had a role of its own) is handed over as it is. Idempotent.
    /// </summary>
    public static async Task PrepareAsync(string superuserConnectionString, string database, string ownerPassword, CancellationToken cancellationToken)
    {
        var server = new NpgsqlConnectionStringBuilder(superuserConnectionString) { Pooling = false };
        await using (var connection = new NpgsqlConnection(server.ConnectionString))
        {
            await connection.OpenAsync(cancellationToken);

            if (await ScalarAsync(connection, $"SELECT 1 FROM pg_roles WHERE rolname = '{OwnerRole}'", cancellationToken) is null)
            {
                // It may log in only once it owns everything (below): KeyAdmin never meets a half-handed-over database.
                await ExecuteAsync(connection, $"CREATE ROLE {OwnerRole} NOLOGIN", cancellationToken);
            }

            var name = Quote(database);
            if (await ScalarAsync(connection, $"SELECT 1 FROM pg_database WHERE datname = {Literal(database)}", cancellationToken) is null)
            {
                await ExecuteAsync(connection, $"CREATE DATABASE {name} OWNER {OwnerRole}", cancellationToken);
            }
            else
            {
                await ExecuteAsync(connection, $"ALTER DATABASE {name} OWNER TO {OwnerRole}", cancellationToken);
            }
        }

        server.Database = database;
        await using (var connection = new NpgsqlConnection(server.ConnectionString))
        {
            await connection.OpenAsync(cancellationToken);
            // Tables first: a sequence that belongs to a column (bigserial) follows its table, and cannot be given away alone.
            await ExecuteAsync(connection, $"""
                ALTER SCHEMA public OWNER TO {OwnerRole};
                DO $$
                DECLARE r record;
                BEGIN
                  FOR r IN SELECT c.oid::regclass AS name,
                                  CASE c.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW' ELSE 'TABLE' END AS kind
                           FROM pg_class c
                           WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm')
                             AND c.relowner <> '{OwnerRole}'::regrole
                  LOOP
                    EXECUTE format('ALTER %s %s OWNER TO {OwnerRole}', r.kind, r.name);
                  END LOOP;
                  FOR r IN SELECT c.oid::regclass AS name FROM pg_class c
                           WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'S'
                             AND c.relowner <> '{OwnerRole}'::regrole
                  LOOP
                    EXECUTE format('ALTER SEQUENCE %s OWNER TO {OwnerRole}', r.name);
                  END LOOP;
                END
                $$;
                """, cancellationToken);

            // Every start, so that the password file stays the one truth. It goes as a SCRAM verifier: its clear text
            // is never in SQL that the server could log on an error.
            await ExecuteAsync(
                connection,
                $"ALTER ROLE {OwnerRole} WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD '{ScramVerifier(ownerPassword)}'",
                cancellationToken);
        }
    }

    // RFC 7677 / PostgreSQL's stored form: SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>. The password is
    // generated from [0-9A-Za-z], which SASLprep leaves as it is.
    private static string ScramVerifier(string password)
    {
        const int iterations = 4096;
        var salt = RandomNumberGenerator.GetBytes(16);
        var salted = Rfc2898DeriveBytes.Pbkdf2(Encoding.UTF8.GetBytes(password), salt, iterations, HashAlgorithmName.SHA256, 32);
        var storedKey = SHA256.HashData(HMACSHA256.HashData(salted, "Client Key"u8));
        var serverKey = HMACSHA256.HashData(salted, "Server Key"u8);
        return $"SCRAM-SHA-256${iterations}:{Convert.ToBase64String(salt)}${Convert.ToBase64String(storedKey)}:{Convert.ToBase64String(serverKey)}";
    }

    private static string Quote(string identifier) => "\"" + identifier.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";

    private static string Literal(string value) => "'" + value.Replace("'", "''", StringComparison.Ordinal) + "'";

    private static async Task<object?> ScalarAsync(NpgsqlConnection connection, string sql, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        return await command.ExecuteScalarAsync(cancellationToken);
    }

    private static async Task ExecuteAsync(NpgsqlConnection connection, string sql, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }
}
