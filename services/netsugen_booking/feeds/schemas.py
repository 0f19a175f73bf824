from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class FeedToken(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "url": "https://netsugen.example.jp/v1/feeds/members/6f1d2c3b-4a5e-4f60-8a9b-0c1d2e3f4a5b.ics?token=gcf_Q2x...",
                    "token": "gcf_Q2x...",
                }
            ]
        }
    )

    url: str = Field(description="Subscribe to this URL in a calendar app. Keep it secret.")
    token: str = Field(description="The secret in the URL, shown once. Regenerating it revokes the old URL.")
