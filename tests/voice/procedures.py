"""A small catalogue for the menu tests (written for these tests; facts follow the public portal)."""

from __future__ import annotations

from knowledge.schema import Channel, Document, Procedure

BIRTH = Procedure(
    code="1.001193", title="Thủ tục đăng ký khai sinh", aliases=["làm giấy khai sinh", "khai sinh cho con"],
    where_to_submit="UBND cấp xã nơi cư trú của cha hoặc mẹ. Nộp trực tiếp hoặc trực tuyến.",
    channels=[Channel("Trực tiếp", time_text="Trong ngày", fee_text="Miễn lệ phí")],
    documents=[Document("Tờ khai đăng ký khai sinh", original=1), Document("Giấy chứng sinh", original=1),
               Document("Giấy tờ tùy thân của người đi đăng ký"), Document("Văn bản ủy quyền nếu nhờ người khác"),
               Document("Giấy chứng nhận kết hôn của cha mẹ", copies=1),
               Document("Biên bản xác nhận trẻ bị bỏ rơi (nếu có)"), Document("Giấy tờ chứng minh nơi cư trú")],
)
BIRTH_AGAIN = Procedure(code="1.004884", title="Thủ tục đăng ký lại khai sinh", aliases=["làm lại giấy khai sinh"],
                        documents=[Document("Tờ khai đăng ký lại khai sinh", original=1)])
ID_CARD_AGAIN = Procedure(
    code="1.014064", title="Cấp lại thẻ căn cước", aliases=["mất căn cước", "làm lại căn cước", "mất cccd"],
    where_to_submit="Công an cấp xã hoặc cấp tỉnh.",
    channels=[Channel("Trực tiếp", time_text="7 ngày làm việc", fee_text="70.000 đồng")],
    documents=[Document("Tờ khai căn cước", original=1)],
)
ID_CARD_CHANGE = Procedure(code="1.014063", title="Cấp đổi thẻ căn cước", aliases=["đổi căn cước"],
                           documents=[Document("Thẻ căn cước cũ", original=1)])
MARRIAGE = Procedure(code="1.000894", title="Thủ tục đăng ký kết hôn", aliases=["đăng ký kết hôn"],
                     channels=[Channel("Trực tiếp", time_text="Ngay trong ngày", free=True)],
                     documents=[Document("Tờ khai đăng ký kết hôn", original=1)])
RETIRED = Procedure(code="9.999999", title="Thủ tục đã bãi bỏ về khai sinh", retired=True)
PROCEDURES = [BIRTH, BIRTH_AGAIN, ID_CARD_AGAIN, ID_CARD_CHANGE, MARRIAGE, RETIRED]
