"""The project's item pipelines, installed as ``brokenlinks.pipelines``."""
