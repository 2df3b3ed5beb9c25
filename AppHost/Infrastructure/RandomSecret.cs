using System.Security.Cryptography;

namespace Keys.AppHost.Infrastructure;

internal static class RandomSecret
{
    // Letters and digits only: such a secret goes into connection strings unquoted (StackExchange.Redis splits its
    // options on commas), and SASLprep leaves it as it is for Postgres's SCRAM verifier.
    private const string Alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

    public static string Create(int length) => RandomNumberGenerator.GetString(Alphabet, length);
}
