using Keys.ApiKeys;

namespace Keys.UnitTests;

public sealed class ResourceIdTests
{
    [Fact]
    public void NewIdsCarryTheirPrefixAndAreWellFormed()
    {
        var project = ResourceId.NewProjectId();
        var key = ResourceId.NewKeyId();

        Assert.StartsWith("prj_", project);
        Assert.StartsWith("key_", key);
        Assert.True(ResourceId.IsWellFormed(project, ResourceId.ProjectPrefix));
        Assert.True(ResourceId.IsWellFormed(key, ResourceId.KeyPrefix));
        Assert.False(ResourceId.IsWellFormed(project, ResourceId.KeyPrefix));
        // The right length, so only the alphabet check can reject it.
        Assert.False(ResourceId.IsWellFormed("prj_" + new string('a', 18) + "/../", ResourceId.ProjectPrefix));
    }
}
