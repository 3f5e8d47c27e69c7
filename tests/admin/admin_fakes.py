# mypy: allow-untyped-defs
"""Shared data for the admin tests."""

from __future__ import annotations

from knowledge.schema import Channel, Document, Procedure

PASSWORDS = {"admin": "admin-pass-123456", "editor": "editor-pass-123456", "viewer": "viewer-pass-123456"}
URL = "https://dichvucong.gov.vn/thu-tuc-hanh-chinh/test"


def catalogue_items() -> list[Procedure]:
    """A small catalogue written for the tests."""
    return [
        Procedure(
            code="1.001193", title="Đăng ký khai sinh", field="Hộ tịch", levels=["Cấp xã"],
            agencies=["Ủy ban nhân dân cấp xã"], source_url=URL,
            channels=[Channel(name="Trực tiếp", time_text="1 ngày làm việc", working_days=1, fee_text="Miễn phí",
                              fee_vnd=0, free=True)],
            documents=[Document(name="Tờ khai đăng ký khai sinh", original=1)],
            aliases=["làm giấy khai sinh", "khai sinh cho con"],
        ),
        Procedure(
            code="1.004194", title="Đăng ký tạm trú", field="Cư trú", levels=["Cấp xã"], source_url=URL + "2",
            channels=[Channel(name="Trực tiếp", time_text="3 ngày làm việc", working_days=3,
                              fee_text="15.000 đồng", fee_vnd=15000)],
            where_to_submit="Công an cấp xã nơi dự kiến tạm trú",
            aliases=["đăng ký tạm trú", "khai báo tạm trú"],
        ),
        Procedure(code="2.000001", title="Cấp giấy phép xây dựng nhà ở riêng lẻ", field="Xây dựng",
                  levels=["Cấp huyện"], source_url=URL + "3"),
    ]
