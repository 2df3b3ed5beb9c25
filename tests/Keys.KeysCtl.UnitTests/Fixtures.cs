using Keys.ApiKeys;

namespace Keys.KeysCtl.UnitTests;

/// <summary>Bodies KeyAdmin answers with, in its JSON (the contract's camelCase names, unset fields left out).</summary>
public static class Fixtures
{
    public const string CurrentOperator =
        """{"id":"opr_ana","name":"ana","role":"editor","projectIds":["prj_1"],"maskedToken":"op_Test…rstu","createdAt":"2030-01-01T00:00:00Z","createdBy":"admin-token"}""";

    public const string Project =
        """{"id":"prj_1","name":"My App","environments":[{"name":"dev","createdAt":"2030-01-01T00:00:00Z"},{"name":"prod","createdAt":"2030-01-01T00:00:00Z"}],"createdAt":"2030-01-01T00:00:00Z"}""";

    public const string SecretValue = "sk_SecretValue0123456789abcdefghijklmnopqrstuvwx";

    /// <summary>Keys of the real format, checksum and all: what <c>keys find</c> sends (anything else it refuses unsent).</summary>
    public static readonly string WellFormedSecretKey = KeyString.Generate(ApiKeyType.Secret);

    public static readonly string WellFormedPublishableKey = KeyString.Generate(ApiKeyType.Publishable);

    public const string OperatorToken = "op_NewOperatorToken0123456789abcdefghijklmnop";

    public static string Key(string id, string name, string environment, string type = "secret", string extra = "", string createdAt = "2030-01-10T08:30:00Z") =>
        $$"""{"id":"{{id}}","name":"{{name}}","type":"{{type}}","maskedKey":"sk_Secr…uvwx","scopes":[],"createdAt":"{{createdAt}}","environment":"{{environment}}","createdBy":"admin-token"{{extra}}}""";

    public static string CreatedKey(string value = SecretValue) =>
        $$"""{"key":{{Key("key_new", "billing", "dev")}},"value":"{{value}}"}""";
}
